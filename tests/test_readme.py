"""The README stays true: every `amala ...` command it shows exists in the CLI (its --help runs),
and every config file it names is in configs/."""

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from amala.flows.cli import app

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
WORD = re.compile(r"[a-z][a-z0-9-]*$")


def _code() -> list[str]:
    """Fenced code blocks and inline code spans: where a reader copies commands from."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", README, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S))
    return fenced + inline


def readme_commands() -> list[tuple[str, ...]]:
    """Each `amala <words>` invocation as its leading lower-case words (arguments stop it)."""
    found = set()
    for block in _code():
        for match in re.finditer(r"(?:^|[\s/])amala((?:[ \t]+[^\s]+)+)", block, re.M):
            words = []
            for token in match.group(1).split():
                if not WORD.match(token):
                    break
                words.append(token)
            if words:
                found.add(tuple(words))
    return sorted(found)


def resolve(words: tuple[str, ...]) -> list[str]:
    """The command path the words name, descending through command groups; an unknown word
    where a subcommand is expected fails here, a word after a leaf command is its argument."""
    command, path = typer.main.get_command(app), []
    for word in words:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            break
        assert word in subcommands, f"README names `amala {' '.join(words)}`, but the CLI has no {word!r} " \
                                    f"under `amala {' '.join(path)}` (has {sorted(subcommands)})"
        command, path = subcommands[word], path + [word]
    assert getattr(command, "commands", None) is None or path == list(words), words
    return path


def test_the_readme_shows_commands():
    commands = readme_commands()
    assert ("run",) in commands and ("data", "fetch", "htpmd") in commands, commands


@pytest.mark.parametrize("words", readme_commands(), ids=" ".join)
def test_every_readme_command_exists(words):
    path = resolve(words)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output


def test_an_unknown_command_would_fail():
    with pytest.raises(AssertionError, match="no 'inspect'"):
        resolve(("data", "inspect"))
    assert CliRunner().invoke(app, ["frobnicate", "--help"]).exit_code != 0


def test_every_config_the_readme_names_exists():
    named = set(re.findall(r"configs/[\w./-]+?\.ya?ml", README))
    assert "configs/demo.yaml" in named
    missing = sorted(p for p in named if not (REPO / p).is_file())
    assert not missing, f"README names config files that do not exist: {missing}"
