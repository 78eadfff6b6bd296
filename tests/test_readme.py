"""The README and the docs pages stay true: every `amala ...` command they show exists in the CLI (its
--help runs), every `make ...` target they show is in the Makefile, and every config file they name is in
configs/."""

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from amala.flows.cli import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PAGES = {str(p.relative_to(REPO)): p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]}
WORD = re.compile(r"[a-z][a-z0-9-]*$")
TARGETS = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))


def _code(text: str) -> list[str]:
    """Fenced code blocks and inline code spans: where a reader copies commands from."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return fenced + inline


def commands(program: str, text: str) -> set[tuple[str, ...]]:
    """Each `<program> <words>` invocation as its leading lower-case words (arguments stop it)."""
    found = set()
    for block in _code(text):
        for match in re.finditer(rf"(?:^|[\s/]){program}((?:[ \t]+[^\s]+)+)", block, re.M):
            words = []
            for token in match.group(1).split():
                if not WORD.match(token):
                    break
                words.append(token)
            if words:
                found.add(tuple(words))
    return found


def shown(program: str) -> list[tuple[str, ...]]:
    return sorted(set().union(*(commands(program, text) for text in PAGES.values())))


def resolve(words: tuple[str, ...]) -> list[str]:
    """The command path the words name, descending through command groups; an unknown word
    where a subcommand is expected fails here, a word after a leaf command is its argument."""
    command, path = typer.main.get_command(app), []
    for word in words:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            break
        assert word in subcommands, f"the docs name `amala {' '.join(words)}`, but the CLI has no {word!r} " \
                                    f"under `amala {' '.join(path)}` (has {sorted(subcommands)})"
        command, path = subcommands[word], path + [word]
    assert getattr(command, "commands", None) is None or path == list(words), words
    return path


def test_the_readme_shows_commands():
    commands_ = commands("amala", README)
    assert ("run",) in commands_ and ("data", "fetch", "htpmd") in commands_, commands_
    assert {("demo",), ("test",), ("test-fast",)} <= commands("make", README)


def test_the_docs_show_more_commands_than_the_readme():
    assert len(shown("amala")) > len(commands("amala", README)) + 10


@pytest.mark.parametrize("words", shown("amala"), ids=" ".join)
def test_every_command_shown_exists(words):
    path = resolve(words)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("words", shown("make"), ids=" ".join)
def test_every_make_target_shown_exists(words):
    assert words[0] in TARGETS, f"the docs show `make {' '.join(words)}`, but the Makefile has no {words[0]!r}"


def test_an_unknown_command_would_fail():
    with pytest.raises(AssertionError, match="no 'inspect'"):
        resolve(("data", "inspect"))
    assert CliRunner().invoke(app, ["frobnicate", "--help"]).exit_code != 0


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_config_a_page_names_exists(page):
    named = set(re.findall(r"configs/[\w./-]+?\.ya?ml", PAGES[page]))
    missing = sorted(p for p in named if not (REPO / p).is_file())
    assert not missing, f"{page} names config files that do not exist: {missing}"


def test_the_readme_names_the_demo_config():
    assert "configs/demo.yaml" in README
