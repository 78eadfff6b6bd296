"""The virtual screen (`amala screen`): trained on a small measured table of its own, it ranks a small
library in the screening table's format, labels every number a prediction with its units, and refuses
a bad config or library in one line. No ChemArr data."""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.loop.config import ConfigError
from amala.loop.screening import load_screen_config, run_screen

MEASURED = Path(__file__).parents[1] / "data" / "formulations_small.csv"
LITFSI = "O=S([N-]S(=O)(C(F)(F)F)=O)(C(F)(F)F)=O.[Li+]"
LICLO4 = "O=Cl(=O)([O-])=O.[Li+]"


def _config(tmp_path, **changes) -> Path:
    library = tmp_path / "library.csv"  # the screening table's columns; Mw as log10 (5.0 = 1e5 g/mol)
    rows = [(p, s, m, 80, 5.0) for p in ("[Cu]CCO[Au]", "[Cu]CCCCO[Au]", "[Cu]c1ccc([Au])cc1")
            for s in (LITFSI, LICLO4) for m in (0.5, 1.5)]
    rows.append(("[Cu]CCO[Au]", "[Na+].[Cl-]", 1.0, 80, 5.0))  # not a lithium salt: dropped, counted
    pd.DataFrame(rows, columns=["smiles", "salt smiles", "molality", "temperature", "mw"]).to_csv(library, index=False)
    data = {"name": "s", "workdir": str(tmp_path / "run"), "train": {"dataset": "chemarr", "path": str(MEASURED)},
            "library": {"dataset": "chemarr_screen", "path": str(library), "mw_unit": "log10(g/mol)"},
            "surrogate": {"kind": "formulation_ensemble", "members": 2, "max_epochs": 15, "hidden": 16,
                          "graph_members": 2, "graph_hidden": 16},
            "top": 3, **changes}
    path = tmp_path / "screen.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")  # the small tables are not the published files
def test_a_screen_ranks_the_library_with_uncertainties_and_labels_them_predictions(tmp_path):
    cfg = load_screen_config(_config(tmp_path))
    frame, about = run_screen(cfg)
    assert len(frame) == 12 and about["library"]["dropped_rows"] == {"salt: no Li+": 1}
    assert frame.log10_sigma_S_cm.is_monotonic_decreasing and list(frame["rank"]) == list(range(1, 13))
    assert (frame.log10_sigma_std > 0).all() and (frame.Ea_eV > 0).all() and (frame.temperature_K == 298.15).all()
    assert frame.level_of_theory.str.startswith("prediction").all()
    assert frame.loc[frame.polymer == "[Cu]CCO[Au]", "polymer_in_training"].all()  # PEO is in the small table
    new = ~frame.polymer_in_training
    assert new.any() and frame.loc[~new, "nearest_training_similarity"].eq(1.0).all()
    assert frame.loc[new, "nearest_training_similarity"].lt(1.0).all()
    written = pd.read_csv(tmp_path / "run" / "screen.csv")
    assert list(written.formulation) == list(frame.formulation)
    assert (tmp_path / "run" / "screen.png").stat().st_size > 0
    assert about["units"]["Ea"] == "eV" and about["train"]["measurements"] > 20


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_screen_command_prints_the_top_rows_and_bad_input_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["screen", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "top 3 of 12" in result.output and "prediction" in result.output
    with pytest.raises(ConfigError, match=r"screen.yaml: temperature_C"):
        load_screen_config(_config(tmp_path, temperature_C=-300))
    bad = tmp_path / "bad.csv"
    bad.write_text("smiles,temperature\n[Cu]CCO[Au],25\n")
    result = CliRunner().invoke(app, ["screen", str(_config(tmp_path, library={"dataset": "chemarr_screen",
                                                                                 "path": str(bad)}))])
    assert result.exit_code == 2 and "bad.csv" in result.output and len(result.output.strip().splitlines()) <= 2


def test_a_screen_name_is_one_folder_name_and_the_workdir_is_checked_before_training(tmp_path, monkeypatch):
    """`name: ../x` once wrote to ./x (a pydantic pattern matches anywhere); a workdir under a file once
    failed only after training. Both are refused in one line, exit 2, with nothing trained or written."""
    monkeypatch.chdir(tmp_path)
    for name in ("../x", "a/b", ".."):
        with pytest.raises(ConfigError, match=r"screen.yaml: name: .* is not a campaign name"):
            load_screen_config(_config(tmp_path, name=name))
    from amala.models.formulation_ensemble import FormulationEnsemble

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the work folder was checked")

    monkeypatch.setattr(FormulationEnsemble, "fit", no_training)
    (tmp_path / "file").write_text("")
    for workdir in ("/dev/null/x", str(tmp_path / "file" / "x")):
        result = CliRunner().invoke(app, ["screen", str(_config(tmp_path, workdir=workdir))])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and "workdir: cannot create" in lines[0], result.output
        with pytest.raises(ConfigError, match="workdir: cannot create"):
            run_screen(load_screen_config(_config(tmp_path, workdir=workdir)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "library.csv", "screen.yaml"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_screen_shows_salt_names_and_keeps_their_smiles_in_the_csv(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    legends = []
    save = Figure.savefig

    def savefig(figure, *args, **kwargs):
        legends.extend(text.get_text() for text in figure.axes[0].get_legend().get_texts())
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    result = CliRunner().invoke(app, ["screen", str(_config(tmp_path, top=12))], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "LiTFSI" in result.output and "LiClO4" in result.output and LITFSI not in result.output
    assert sorted(legends) == ["LiClO4", "LiTFSI"]
    written = pd.read_csv(tmp_path / "run" / "screen.csv")
    by_name = dict(zip(written.salt_name, written.salt))
    assert set(by_name) == {"LiTFSI", "LiClO4"} and "[Li+]" in by_name["LiTFSI"] and "Cl" in by_name["LiClO4"]


def test_validate_checks_a_screen_config_with_the_screens_own_rules(tmp_path):
    good = CliRunner().invoke(app, ["validate", str(_config(tmp_path))])
    assert good.exit_code == 0 and "ok (screen 's'" in good.output, good.output
    for changes, named in (({"workdir": "/dev/null/x"}, "workdir: cannot create"),
                           ({"library": {"dataset": "chemarr_screen", "path": str(tmp_path / "none.csv")}},
                            "library.path: dataset 'chemarr_screen' not found"),
                           ({"name": "../x"}, "name: '../x' is not a campaign name"),
                           ({"top": 0}, "top: Input should be greater")):
        bad = CliRunner().invoke(app, ["validate", str(_config(tmp_path, **changes))])
        lines = [line for line in bad.output.splitlines() if line.strip()]
        assert bad.exit_code == 2 and len(lines) == 1 and named in lines[0], bad.output
