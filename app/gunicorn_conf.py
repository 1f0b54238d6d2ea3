"""gunicorn configuration, loaded as ``gunicorn --config python:app.gunicorn_conf app.wsgi:app``.

Everything is sized from the validated environment (app.config). The module runs in the gunicorn
master before any worker exists, which makes it the place to:

- refuse to start on a bad environment: one line on stderr, exit code 2, no traceback;
- point prometheus-client at a multiprocess directory *before* anything imports it, so every
  forked worker writes its samples where ``GET /metrics`` sums them;
- replace the master's SIGTERM handling with the drain (app.lifecycle.drain);
- count the workers it has to replace (``gunicorn_worker_restarts``, see ``child_exit``).

Private names start with ``_``: gunicorn treats every public module-level name as a setting.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.config import AppConfig, ConfigError, load_config
from app.observability.logging import gunicorn_logconfig, stderr_line

try:
    _config: AppConfig = load_config()
except ConfigError as _error:
    # SystemExit is not an Exception, so gunicorn's config loader lets it through untouched:
    # the operator sees exactly this line.
    stderr_line(str(_error))
    sys.exit(2)


def _metrics_dir(config: AppConfig) -> tuple[Path, bool]:
    """The multiprocess directory and whether this master owns it (and so removes it at exit)."""
    if config.metrics_dir is not None:
        return config.metrics_dir, False
    # tmpfs when available: the mmap files are written on every request.
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()  # noqa: S108 - tmpfs, private per-pid dir  # nosec B108
    return Path(base) / f"flask-fargate-{os.getpid()}", True


_METRICS_DIR, _OWN_METRICS_DIR = _metrics_dir(_config)
# Before any worker imports prometheus-client: it picks its storage at import time.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_METRICS_DIR)
if _OWN_METRICS_DIR:
    _config = load_config()  # re-read: metrics_dir (and so the drain flag) now set

# --- settings ---------------------------------------------------------------------------------
wsgi_app = "app.wsgi:app"
# Each worker imports the app after the fork (gunicorn's default, pinned here): what the app
# starts when it is built, such as the thread that installs tracing and its export thread
# (app.observability.deferred_tracing, app.observability.tracing), runs in the workers only,
# never in the master (threads do not survive a fork).
preload_app = False
bind = [f"0.0.0.0:{_config.port}"]
worker_class = "gthread"
workers = _config.web_concurrency
threads = _config.threads
# SO_REUSEPORT: the kernel spreads connections over the workers; without it one worker was
# measured to grab nearly all keep-alive connections of a load balancer.
reuse_port = True
keepalive = _config.keepalive_seconds
# At least the ALB's limits (request line and one header 16 KB, all headers 64 KB): below them a
# well-formed request the ALB forwards would get gunicorn's own HTML 414/431, not the JSON
# contract. 0 is gunicorn's only value past 8190 for the request line; the ALB caps it at 16 KB,
# and only the ALB's security group reaches the tasks.
limit_request_line = 0
limit_request_field_size = 16384
limit_request_fields = 1000
graceful_timeout = _config.graceful_timeout_seconds
timeout = 30
# The heartbeat file is touched constantly; keep it off the (possibly overlay) disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs heartbeat  # nosec B108
proc_name = "flask-fargate"
# The app writes one JSON access line per request; gunicorn's own would duplicate it (and cost).
accesslog = None
logger_class = "app.observability.gunicorn_logger.ErrorOnlyLogger"
errorlog = "-"
loglevel = _config.log_level.lower()
logconfig_dict = gunicorn_logconfig(_config.log_level, _config.app_version)
# No admin control socket: not needed in a container, and one less surface.
control_socket_disable = True


# --- hook run in each worker ---------------------------------------------------------------------
def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the app: leave what it loaded out of the garbage collector's
    full collections (app.lifecycle.heap)."""
    from app.lifecycle import heap  # noqa: PLC0415 - keep module import light

    heap.freeze()


# --- hooks (run in the master) --------------------------------------------------------------------
def on_starting(server: Any) -> None:
    """Start with an empty metrics directory and no drain flag left from an earlier run."""
    _METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in _METRICS_DIR.glob("*.db"):
        stale.unlink(missing_ok=True)
    from app.lifecycle.drain import DrainState  # noqa: PLC0415 - keep module import light

    DrainState(_config.drain_flag).reset()


def when_ready(server: Any) -> None:
    """Take over SIGTERM: drain for DRAIN_SECONDS, then gunicorn's graceful stop; and note the
    workers the master stops itself, which are no restarts (``child_exit``)."""
    from app.lifecycle.drain import DrainState, SigtermDrain  # noqa: PLC0415

    SigtermDrain(server, DrainState(_config.drain_flag), _config.drain_seconds).install()
    _note_retirements(server)


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges (in-flight requests) from the sums; count a restart."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - only after the env is set

    multiprocess.mark_process_dead(worker.pid, str(_METRICS_DIR))  # type: ignore[no-untyped-call]
    if _exit_was_unexpected(worker.pid):
        _count_worker_restart()


def on_exit(server: Any) -> None:
    """Remove the metrics directory if this master created it."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)


# Workers the master itself asked to stop: every worker at a stop (graceful: SIGTERM, quick:
# SIGQUIT or SIGINT, then SIGKILL for those still running at the end of the graceful timeout),
# and the old workers a reload (SIGHUP) or a scale-down (SIGTTOU) retires with SIGTERM.
_RETIRE_SIGNALS = frozenset({signal.SIGTERM, signal.SIGQUIT, signal.SIGINT})
_retiring: set[int] = set()


def _note_retirements(server: Any) -> None:
    """Have the master remember each worker it asks to stop (see ``_exit_was_unexpected``).

    Every signal the arbiter sends a worker goes through its ``kill_worker``; the wrapper notes
    the pid and lets the signal go as before.
    """
    kill_worker = server.kill_worker

    def kill_and_note(pid: int, sig: int) -> None:
        if sig in _RETIRE_SIGNALS:
            _retiring.add(pid)
        kill_worker(pid, sig)

    server.kill_worker = kill_and_note


def _exit_was_unexpected(pid: int) -> bool:
    """Whether the worker ``pid`` exited without the master asking it to.

    Unexpected, and counted as a restart (the master starts a new worker in its place): a crash,
    a kill from outside the master (the kernel's OOM killer sends SIGKILL), or the master's own
    kill of a worker that stopped answering (``timeout``: SIGABRT, then SIGKILL). Expected: the
    exit of a worker the master asked to stop (``_RETIRE_SIGNALS``), at a stop, a reload or a
    scale-down. A worker that exits on its own with ``max_requests`` would count: it is not set.
    """
    if pid in _retiring:
        _retiring.discard(pid)
        return False
    return True


@functools.cache
def _restarts_counter() -> Any:
    """The master's ``gunicorn_worker_restarts`` counter, made on the first restart.

    In no registry: its value lives in the master's own file of the metrics directory, which
    every scrape sums with the workers' files.
    """
    from app.observability.metrics import worker_restarts  # noqa: PLC0415 - env set first

    return worker_restarts(None)


def _count_worker_restart() -> None:
    """Add one to ``gunicorn_worker_restarts``."""
    _restarts_counter().inc()
