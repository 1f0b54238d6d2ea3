"""``.local/emulator.json``: what a ``deploy --keep`` left running, read back by later commands."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from delivery.emulator import port_in_use
from delivery.environments import Environment
from delivery.local.processes import find, stop
from delivery.local.runner import LocalService

STATE_FILE = Path(".local") / "emulator.json"


@dataclass(frozen=True)
class Record:
    """``.local/emulator.json``: what a ``--keep`` left running."""

    endpoint: str
    region: str
    pid: int | None  # None: an emulator this project did not start (AWS_ENDPOINT_URL)
    log: str = ""
    service: LocalService | None = None


def state_path(env: Environment) -> Path:
    """``<project>/.local/emulator.json``."""
    return env.root / STATE_FILE


def read_record(env: Environment) -> Record | None:
    """The recorded emulator, or None (absent or unreadable: nothing trustworthy is recorded)."""
    path = state_path(env)
    try:
        data = json.loads(path.read_text())
        service = data.pop("service", None)
        return Record(**data, service=LocalService(**service) if service else None)
    except (OSError, ValueError, TypeError):
        return None


def write_record(env: Environment, record: Record) -> None:
    """Record what stays running (atomically: a reader never sees half a file)."""
    path = state_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.replace(path)


def clear_record(env: Environment) -> None:
    """Forget the recorded emulator."""
    state_path(env).unlink(missing_ok=True)


def answers(endpoint: str) -> bool:
    """Whether something listens at ``endpoint``'s host and port."""
    parsed = urlparse(endpoint)
    return bool(parsed.hostname and parsed.port and port_in_use(parsed.port, parsed.hostname))


def record_alive(record: Record) -> bool:
    """Whether the recorded emulator still runs and answers (a reused pid or port is not it)."""
    if record.pid is not None and find(record.pid, "moto") is None:
        return False
    return answers(record.endpoint)


def stop_emulator(record: Record) -> None:
    """Stop a recorded emulator this project started (SIGTERM, then SIGKILL), and its log."""
    emulator = find(record.pid, "moto") if record.pid is not None else None
    if emulator is not None:
        stop(emulator)
    if record.log:
        Path(record.log).unlink(missing_ok=True)
