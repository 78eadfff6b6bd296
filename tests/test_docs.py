"""The documentation pages stay true to the code: every repository path a page shows as code exists, and
every `amala.*` name it shows as code imports. (Commands and config files: tests/test_readme.py.)"""

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs").rglob("*.md"))
FOLDERS = ("core", "agents", "models", "oracles", "loop", "flows", "api", "tests", "benchmarks", "configs", "docs")
PATH = re.compile(rf"(?:{'|'.join(FOLDERS)})/[\w./-]*")
NAME = re.compile(r"amala(?:\.[A-Za-z_]\w*)+")


def spans(page: Path) -> list[str]:
    """Inline code spans outside fenced blocks: where a page names a file or an object."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return re.findall(r"`([^`\n]+)`", text)


def named(pattern: re.Pattern) -> list[tuple[str, str]]:
    """(page, span) for each span that is wholly a match of the pattern."""
    return sorted({(str(p.relative_to(REPO)), s) for p in PAGES for s in spans(p) if pattern.fullmatch(s)})


def test_the_pages_name_paths_and_objects():
    assert len(named(PATH)) > 20 and len(named(NAME)) > 5


@pytest.mark.parametrize("page, path", named(PATH), ids=str)
def test_every_path_a_page_names_exists(page, path):
    assert (REPO / path).exists(), f"{page} names {path}, which is not in the repository"


def resolve(name: str):
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize("page, name", named(NAME), ids=str)
def test_every_amala_name_a_page_names_imports(page, name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{page} names {name}, which does not import: {error}")
