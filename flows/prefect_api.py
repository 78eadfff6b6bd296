"""One Prefect API per run: the user's server if `PREFECT_API_URL` names one, else a temporary one.

Left to itself, Prefect starts a temporary API server lazily, with a 20 s start-up limit, in any
process that needs one. On a loaded machine that limit is missed, and the error (a ~100-line
traceback) failed the whole run. Here the run's own process starts it once, up front, with a
generous limit, and stops it when the run ends, however it ends (including Ctrl-C and SIGTERM);
evaluations run in worker processes that never talk to Prefect (`amala.loop.executors`).

The server runs in a session of its own. A terminal's Ctrl-C (or `kill -TERM -PGID`, systemd's
default) signals the whole foreground process group: had the API been in it, it would die first and
the run would spend minutes retrying Prefect calls against a dead port while it stops. Out of the
group, it is stopped by the run, last. If the run dies without stopping it (SIGKILL, even during
start-up), the kernel (Linux: the parent-death signal) and a small watcher process stop it.
"""

from __future__ import annotations

import contextlib
import os
import time

from amala.core.settings import settings


class PrefectUnavailable(RuntimeError):
    """No Prefect API could be reached or started; the message is one line saying what to do."""


@contextlib.contextmanager
def prefect_api(startup_seconds: int | None = None):
    """Yield the API URL the run talks to, starting (and later stopping) a temporary server when
    no server is configured (within `startup_seconds`, default AMALA_PREFECT_STARTUP_SECONDS)."""
    startup_seconds = settings().prefect_startup_seconds if startup_seconds is None else startup_seconds
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    server = _new_server()
    start = time.monotonic()
    try:
        server.start(timeout=startup_seconds)
    except Exception as exc:
        with contextlib.suppress(Exception):
            server.stop()
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PrefectUnavailable(
            f"the temporary Prefect API did not start within {time.monotonic() - start:.0f} s ({first[:200]}); "
            "retry, raise AMALA_PREFECT_STARTUP_SECONDS, or start `prefect server start` and set PREFECT_API_URL"
        ) from None
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            try:
                yield server.api_url
            finally:
                _flush_logs()
    finally:
        server.stop()


REAPER = """
import os, signal, sys, time
run, server = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while alive(run) and alive(server):
    time.sleep(1)
if alive(server):
    os.kill(server, signal.SIGTERM)
"""


def _server_class():
    """Prefect's temporary API server, started in its own session, with its watcher in place from
    the moment its process exists (`_run_uvicorn_command` is where Prefect creates it, also when it
    retries on another port)."""
    import subprocess
    import sys

    from prefect.server.api.server import SubprocessASGIServer

    class OwnSessionServer(SubprocessASGIServer):
        def _run_uvicorn_command(self):
            original = subprocess.Popen

            def popen(args, **kwargs):
                kwargs.setdefault("start_new_session", True)
                if sys.platform.startswith("linux") and list(args[:3]) == [sys.executable, "-m", "uvicorn"]:
                    args = [sys.executable, "-c", DIE_WITH_PARENT, str(os.getpid()), *args]
                return original(args, **kwargs)

            subprocess.Popen = popen  # for the one call below, then restored
            try:
                process = super()._run_uvicorn_command()
            finally:
                subprocess.Popen = original
            _reap_when_gone(os.getpid(), process.pid)
            return process

    return OwnSessionServer


def _new_server():
    """A fresh temporary server of our kind (Prefect keeps one instance per port in a class-wide
    table: one of its own kind left there would be handed back instead)."""
    cls = _server_class()
    server = cls()
    if type(server) is not cls:
        cls._instances.pop(None, None)
        server = cls()
    return server


# Run by the server's process before it becomes uvicorn (exec keeps the request): the kernel sends it
# SIGTERM when the run that started it dies (Linux PR_SET_PDEATHSIG), even by SIGKILL during start-up.
# A hook run between fork and exec (preexec_fn) could do this too, but is unsafe in a threaded process.
DIE_WITH_PARENT = """
import ctypes, os, signal, sys
run = int(sys.argv[1])
try:
    ctypes.CDLL(None).prctl(ctypes.c_int(1), ctypes.c_ulong(signal.SIGTERM), ctypes.c_ulong(0),
                            ctypes.c_ulong(0), ctypes.c_ulong(0))
except (OSError, AttributeError):
    pass
if os.getppid() != run:
    sys.exit(0)
os.execv(sys.argv[2], sys.argv[2:])
"""


def _reap_when_gone(run_pid: int, server_pid: int) -> None:
    """A tiny watcher that stops the temporary API if this process dies without cleaning up
    (SIGKILL, out of memory): Prefect starts the server as a plain child, which would otherwise
    outlive the run and hold 150-250 MB."""
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-c", REAPER, str(run_pid), str(server_pid)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _flush_logs() -> None:
    """Send the run's last log lines while the temporary API still listens (else Prefect prints
    '--- Error logging to API ---' after the run)."""
    for drain in (_drain_logs, _drain_events):
        try:
            drain()
        except Exception:
            pass


def _drain_logs() -> None:
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)


def _drain_events() -> None:
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10)
