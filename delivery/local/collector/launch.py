"""Starting and stopping the stand-in collector next to the local service.

In the task (awsvpc) the app and the collector share ``localhost``: the app exports to
``localhost:4318`` and the collector scrapes ``localhost:8000``. Here each container port the
task uses gets a free port on 127.0.0.1 (the app's is the service's own), the collector is told
the mapping (``--publish``), and the app's ``OTEL_EXPORTER_OTLP_ENDPOINT`` is pointed at the
receiver's mapped port, as the runner already maps the app's own port.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from delivery import lifetime
from delivery.emulator import HOST, free_port, port_in_use
from delivery.errors import DeliveryError
from delivery.local import gunicorn
from delivery.local.collector.config import SOURCE as COLLECTOR_CONFIG
from delivery.local.collector.config import CollectorConfig
from delivery.local.collector.server import mapped
from delivery.local.processes import alive, find, stop

log = logging.getLogger(__name__)
MODULE = "delivery.local.collector"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
READY_TIMEOUT_S = 15.0
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


def task_ports(config: CollectorConfig, app_port: int, app_host_port: int) -> dict[int, int]:
    """Each container port of the task mapped to a port on 127.0.0.1: the app's to the service's
    own, the collector's to free ones; one line if a scrape target is no port of the task."""
    ports = {app_port: app_host_port}
    for port in config.ports():
        if port in ports:
            raise DeliveryError(
                f"{COLLECTOR_CONFIG}: the collector listens on port {port}, which the app "
                "container uses: in one task's network only one can"
            )
        ports[port] = free_port()
    for target in config.targets():
        mapped(target, ports)  # a target that is not the app's port: said now, not at a scrape
    return ports


def app_environment(
    environment: Mapping[str, str], config: CollectorConfig, ports: Mapping[int, int]
) -> dict[str, str]:
    """The app's environment with its OTLP endpoint at the receiver's port on 127.0.0.1.

    Only an endpoint at ``localhost`` on a port the collector's otlp receiver listens on is
    moved (that is the sidecar); any other is left as the task definition gives it.
    """
    endpoint = environment.get(ENDPOINT_VARIABLE)
    if not endpoint:
        return dict(environment)
    parsed = urlparse(endpoint)
    receivers = {address.port for address in config.otlp.values()}
    if parsed.hostname not in _LOCAL_HOSTS or parsed.port not in receivers:
        return dict(environment)
    moved = parsed._replace(netloc=f"{HOST}:{ports[parsed.port]}").geturl()
    return {**environment, ENDPOINT_VARIABLE: moved}


def start(
    config_text: str,
    config: CollectorConfig,
    ports: Mapping[int, int],
    log_path: Path,
    *,
    region: str,
    outlive: bool = False,
) -> int:
    """Start the stand-in with ``config_text`` as its AOT_CONFIG_CONTENT; its pid once it is
    ready (its health check answers, or its receivers listen). It dies with this process unless
    it is to ``outlive`` it (a ``--keep`` command); its own session either way."""
    publish = [arg for c, h in sorted(ports.items()) for arg in ("--publish", f"{c}:{h}")]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    variables = {
        **os.environ,
        COLLECTOR_CONFIG: config_text,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    with log_path.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module, no shell
            [sys.executable, "-m", MODULE, *publish],
            env=variables,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=None if outlive else lifetime.die_with_parent(signal.SIGTERM),  # noqa: PLW1509 - only prctl runs in the child
        )
    try:
        _wait_ready(process, config, ports, log_path)
    except DeliveryError:
        stop_collector(process.pid)
        raise
    return process.pid


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _wait_ready(
    process: subprocess.Popen[bytes],
    config: CollectorConfig,
    ports: Mapping[int, int],
    log_path: Path,
) -> None:
    def running() -> bool:
        return process.poll() is None

    try:
        if config.health_check:
            address = next(iter(config.health_check.values()))
            url = f"http://{HOST}:{ports[address.port]}/"
            gunicorn.wait_ready(url, READY_TIMEOUT_S, running=running, interval_s=0.05)
            return
        deadline = time.monotonic() + READY_TIMEOUT_S
        wanted = [ports[address.port] for address in config.otlp.values()]
        while not all(port_in_use(port) for port in wanted):
            if not running():
                raise gunicorn.NotReadyError("collector", READY_TIMEOUT_S, exited=True)
            if time.monotonic() > deadline:
                raise gunicorn.NotReadyError("collector", READY_TIMEOUT_S, exited=False)
            time.sleep(0.05)
    except gunicorn.NotReadyError as exc:
        how = "exited" if exc.exited else f"not ready within {READY_TIMEOUT_S:g} s"
        raise DeliveryError(f"collector stand-in {how}: {_last_line(log_path)}") from exc


def stop_collector(pid: int) -> None:
    """SIGTERM (it sends what it holds first), SIGKILL if it will not go; a pid reused since is
    left alone."""
    process = find(pid, MODULE)
    if process is not None:
        stop(process)


def collector_running(pid: int) -> bool:
    """Whether the stand-in ``pid`` still runs."""
    return alive(pid) and find(pid, MODULE) is not None
