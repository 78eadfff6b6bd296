# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# torch is pinned and installed first: on these machines torch==2.13.0 is a local CPU wheel,
# any other version pulls gigabytes of CUDA packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
# Where the HTP-MD table is read from (tests and demo); `amala data fetch htpmd` fills ~/.cache/amala.
DATA_DIR ?= $(if $(wildcard ../shared/data/htpmd.csv),../shared/data,$(HOME)/.cache/amala)

.PHONY: demo test test-fast docs venv clean dft

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
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q -d build/site
	AMALA_DATA_DIR="$(abspath $(DATA_DIR))" $(PY) -m pytest -q --durations=15

# The whole suite less the engine and flow tiers (real MD, machine-learned potentials, Prefect flows)
# and the other heavy tests: the quick check while editing. CI runs `make test`.
test-fast: venv
	$(VENV)/bin/ruff check .
	AMALA_DATA_DIR="$(abspath $(DATA_DIR))" $(PY) -m pytest -q -m "not md and not mlip and not flow and not slow" --durations=10

# The documentation site (docs/, mkdocs.yml) with its API reference from the docstrings, into build/site;
# --strict: a broken link or a docstring the reference cannot render fails it.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d build/site

# The PBE plane-wave DFT teacher (oracles/mlip/teachers, kind gpaw) is optional: GPAW compiles from source
# against the system's libxc, OpenBLAS and FFTW with a C++ compiler (plain `pip install gpaw` picks a
# build that fails here); its PAW setups come inside the gpaw-data wheel. Run as root: it installs the
# Debian packages; otherwise it says the one line to run as root first.
DFT_APT := libxc-dev libopenblas-dev libfftw3-dev g++
dft: venv
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(DFT_APT); \
	elif ! dpkg -s $(DFT_APT) >/dev/null 2>&1; then \
	  echo "make dft: first run as root: apt-get install -y $(DFT_APT)"; exit 1; fi
	printf "compiler = 'g++'\nmpi = False\nfftw = True\nlibraries += ['fftw3', 'openblas']\n" \
	  > $(VENV)/gpaw-siteconfig.py
	GPAW_CONFIG="$(abspath $(VENV))/gpaw-siteconfig.py" $(PY) -m pip install -q -e ".[dft]"
	$(PY) -c "from gpaw import GPAW, PW; from ase.build import bulk; a = bulk('Si'); \
	  a.calc = GPAW(mode=PW(200), kpts=(1, 1, 1), txt=None); print('gpaw works:', a.get_potential_energy(), 'eV')"

clean:
	rm -rf $(VENV) runs reports
