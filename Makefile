# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# torch is pinned and installed first: on these machines torch==2.13.0 is a local CPU wheel,
# any other version pulls gigabytes of CUDA packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
# Where the HTP-MD table is read from (tests and demo); `amala data fetch htpmd` fills ~/.cache/amala.
DATA_DIR ?= $(if $(wildcard ../shared/data/htpmd.csv),../shared/data,$(HOME)/.cache/amala)

.PHONY: demo test venv clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

# The demo simulates oxide glasses with LAMMPS: no dataset, no network.
demo: venv
	$(VENV)/bin/amala run configs/demo.yaml
	$(VENV)/bin/amala report oxide_demo

test: venv
	$(VENV)/bin/ruff check .
	AMALA_DATA_DIR="$(abspath $(DATA_DIR))" $(PY) -m pytest -q --durations=15

clean:
	rm -rf $(VENV) runs reports
