"""The `amala` typer app, its global options, and how every command reports an error.

Every user-facing error is one line on stderr (exit code 2); `amala --debug ...` (or AMALA_DEBUG=1)
shows the traceback instead. Output is never hard-wrapped, so a piped or copied command line stays
whole.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="amala: autonomous active-learning discovery of amorphous battery electrolytes.")
console = Console(soft_wrap=True, markup=False)  # names and SMILES like [Cu]C[nH] are text, not markup
err = Console(stderr=True, soft_wrap=True)
DEBUG = {"on": False}  # --debug; AMALA_DEBUG is read when an error is shown (_debug)


def _version(value: bool):
    if value:
        from importlib.metadata import version

        console.print(f"amala {version('amala')}", markup=False)
        raise typer.Exit()


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="show tracebacks instead of one-line errors"),
             version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="print the version and exit")):
    if debug:
        DEBUG["on"] = True


def main() -> None:
    """Console entry point: one line for any error a command did not foresee (a bug or an
    environment problem), the traceback only with --debug; Ctrl-C exits quietly with 130. A usage
    error (a bad option value, a missing argument) and an OS error naming a file (a too-long name,
    a missing or unwritable folder) are the user's to fix: one line, exit 2."""
    errors = _click_errors()
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):  # click (or typer's copy of it) turns Ctrl-C into Abort
        print("interrupted; `amala run` resumes where this stopped", file=sys.__stderr__, flush=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, getattr(errors, "NoArgsIsHelpError", ())):  # `amala` alone: the help, already shown
            if exc.format_message().strip():  # older click shows it here
                exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, errors.ClickException):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            say(" ".join(line.strip() for line in exc.format_message().splitlines() if line.strip()) + hint)
            sys.exit(2)
        if isinstance(exc, OSError) and exc.filename is not None and not _debug():
            say(os_text(exc))
            sys.exit(2)
        if _debug():
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        err.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(first)} (run with --debug for the "
                  "traceback)", highlight=False)
        sys.exit(1)
    if code == 130:  # typer turns Ctrl-C (and our SIGTERM) into exit code 130
        print("interrupted; `amala run` resumes where this stopped", file=sys.__stderr__, flush=True)
    sys.exit(code if isinstance(code, int) else 0)


def _debug() -> bool:
    """--debug, or AMALA_DEBUG set to a true value (a bad value counts as off: the error is still shown)."""
    from amala.core.settings import SettingsError, settings

    try:
        return DEBUG["on"] or "--debug" in sys.argv or settings().debug
    except SettingsError:
        return False


def _click_errors():
    """The exceptions of the click that typer runs on: a recent typer carries its own copy
    (typer._click), whose errors are not click's, so catching click's let every usage error through
    as a Python class name with exit 1."""
    try:
        from typer._click import exceptions
    except ImportError:  # an older typer: click itself
        from click import exceptions
    return exceptions


def say(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def fail(message: str) -> None:
    say(message)
    raise typer.Exit(2)


def os_text(exc: OSError, path=None) -> str:
    """An OS error as '<file>: <what the OS says>', e.g. 'out/x.csv: Permission denied' (a name
    the OS found too long is cut to its first 200 characters)."""
    name = exc.filename if exc.filename is not None else path
    name = name if name is None or len(str(name)) <= 200 else f"{str(name)[:200]}..."
    what = exc.strerror or str(exc) or type(exc).__name__
    return f"{name}: {what}" if name is not None else what



def read_spec(config, spec_class):
    """A YAML settings file validated as `spec_class` (its defaults when `config` is None); one line naming
    the file when it cannot be read or is not valid."""
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(config.read_text()) if config else {}
        return spec_class.model_validate(data or {})
    except OSError as exc:
        fail(f"{config}: cannot read it: {exc.strerror or exc}")
    except (yaml.YAMLError, ValidationError) as exc:
        fail(f"{config}: {' '.join(str(exc).split())[:300]}")
