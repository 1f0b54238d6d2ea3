"""A local deploy killed as a CI runner cancels a job: nothing it started outlives it.

The deploy is the real command line (tests/support/fake_build_invoke.py: only the image build
and scan are faked) on a sample project whose service never becomes ready, so the command sits in
its readiness wait with its moto server and its gunicorn (master and worker) running. Then only
the invoke process is signalled, as a runner does:

- SIGTERM: the same clean stop as Ctrl-C, one line on stderr, and every process it started gone;
- SIGKILL: no clean-up runs at all, and still every process it started is gone (each learns of
  its parent's death from the kernel, delivery/lifetime.py); with ``--keep`` too, where nothing
  was kept yet (the watcher of delivery/local/lifeline.py stops what is to outlive only a good end).

Every wait is bounded; whatever a failing test leaves running is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from delivery import loopback
from delivery.emulator import port_in_use
from delivery.local.processes import alive
from tests.support.project import make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
UP_TIMEOUT_S = 120.0  # emulator start and the sample project's stack launch
EXIT_TIMEOUT_S = 30.0  # the clean stop after SIGTERM: the service, then the emulator
GONE_TIMEOUT_S = 20.0  # every process it started, after its death
# A service that answers but is never ready: the deploy waits in its readiness poll.
NEVER_READY = {
    "app/__init__.py": "",
    "app/gunicorn_conf.py": "workers = 1\n",
    "app/wsgi.py": (
        "def app(environ, start_response):\n"
        '    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])\n'
        '    return [b"never ready"]\n'
    ),
}


@dataclass
class Deploying:
    """A local deploy running as a subprocess, and where its output goes."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: list[psutil.Process] = field(default_factory=list)  # found by wait_until_serving

    def output(self) -> str:
        """What it printed so far (stdout, then stderr)."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def port(self, pattern: str) -> int:
        """The port a progress line matching ``pattern`` names."""
        found = re.search(pattern, self.stdout.read_text(errors="replace"))
        assert found, f"no line matches {pattern!r} in:\n{self.output()}"
        return int(found.group(1))


@pytest.fixture
def deploying(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Deploying]:
    """``invoke deploy --env local --serve process`` on the never-ready sample, started (with
    the options of an indirect parameter, if any)."""
    project = make_project(tmp_path / "project")
    (project / "templates" / "service.json").write_text(service_template())
    for name, text in NEVER_READY.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    environ = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environ["DELIVERY_PROJECT_ROOT"] = str(project)
    argv = [
        sys.executable, "-m", "tests.support.fake_build_invoke", "1.0.0",
        "deploy", "--env", "local", "--skip-scan", "--serve", "process",
        "--ready-timeout", str(UP_TIMEOUT_S * 2), *getattr(request, "param", ()),
    ]  # fmt: skip
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(argv, cwd=REPO, env=environ, stdout=out, stderr=err)
    deploy = Deploying(process, stdout, stderr)
    try:
        yield deploy
    finally:
        # A failing test (or the code before the fix) leaves them running: not past this test.
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for leftover in deploy.started:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


def wait_until_serving(deploying: Deploying) -> list[psutil.Process]:
    """Wait until the deploy's moto server and gunicorn master + worker run and answer; they and
    every other process the deploy started, found as its descendants."""
    deadline = time.monotonic() + UP_TIMEOUT_S
    invoke = psutil.Process(deploying.process.pid)
    while time.monotonic() < deadline:
        assert deploying.process.poll() is None, f"the deploy ended early:\n{deploying.output()}"
        descendants = invoke.children(recursive=True)
        lines = [" ".join(_cmdline(p)) for p in descendants]
        moto = any("delivery.strict_moto" in line for line in lines)
        gunicorns = sum("gunicorn" in line for line in lines)  # the master and its worker
        if moto and gunicorns >= 2 and "local service: gunicorn (pid" in deploying.output():
            port = deploying.port(r"gunicorn \(pid \d+\) on http://127\.0\.0\.1:(\d+)")
            status, _ = loopback.get(f"http://127.0.0.1:{port}/health/ready", timeout_s=1)
            if status == 503:  # it answers, and is never ready: the deploy is waiting on it
                deploying.started = descendants
                return descendants
        time.sleep(0.2)
    pytest.fail(f"moto and gunicorn did not come up in {UP_TIMEOUT_S:g} s:\n{deploying.output()}")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def survivors(started: list[psutil.Process], timeout_s: float) -> list[str]:
    """Which of ``started`` still run after ``timeout_s`` (a zombie does not)."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = [p for p in started if p.is_running() and alive(p.pid)]
        if not running or time.monotonic() >= deadline:
            return [f"{p.pid} {' '.join(_cmdline(p))}" for p in running]
        time.sleep(0.1)


def stuck_report(deploying: Deploying, left: list[str]) -> str:
    """What still runs, and where the deploy is (its threads' stacks, from faulthandler)."""
    if deploying.process.poll() is None:
        deploying.process.send_signal(signal.SIGUSR1)  # tests/support/fake_build_invoke.py
        time.sleep(1)
    return "still running:\n" + "\n".join(left) + "\n" + deploying.output()


def test_sigterm_stops_a_local_deploy_as_ctrl_c_does_with_one_line(
    deploying: Deploying,
) -> None:
    started = wait_until_serving(deploying)
    emulator = deploying.port(r"starting moto on http://127\.0\.0\.1:(\d+)")
    service = deploying.port(r"gunicorn \(pid \d+\) on http://127\.0\.0\.1:(\d+)")

    deploying.process.send_signal(signal.SIGTERM)  # the invoke process alone

    left = survivors(started, EXIT_TIMEOUT_S + GONE_TIMEOUT_S)
    assert left == [], stuck_report(deploying, left)
    try:
        code = deploying.process.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {EXIT_TIMEOUT_S:g} s after SIGTERM:\n{deploying.output()}")
    # The clean stop of Ctrl-C: the session stopped the service and the emulator, and said so.
    stdout = deploying.stdout.read_text()
    assert "local service: stopped process" in stdout
    assert "emulator: stopped" in stdout
    assert deploying.stderr.read_text().splitlines() == ["error: terminated (SIGTERM)"]
    assert "Traceback" not in deploying.output()
    assert code == 128 + signal.SIGTERM
    assert not port_in_use(emulator)
    assert not port_in_use(service)


# --keep: the emulator and the service may outlive the command, but only one that ends well.
@pytest.mark.parametrize("deploying", [(), ("--keep",)], ids=["", "keep"], indirect=True)
def test_sigkill_to_a_local_deploy_leaves_nothing_running(deploying: Deploying) -> None:
    started = wait_until_serving(deploying)
    emulator = deploying.port(r"starting moto on http://127\.0\.0\.1:(\d+)")
    service = deploying.port(r"gunicorn \(pid \d+\) on http://127\.0\.0\.1:(\d+)")

    deploying.process.send_signal(signal.SIGKILL)  # the invoke process alone: no clean-up runs
    assert deploying.process.wait(timeout=EXIT_TIMEOUT_S) == -signal.SIGKILL

    assert survivors(started, GONE_TIMEOUT_S) == []
    assert not port_in_use(emulator)
    assert not port_in_use(service)
    assert "emulator: stopped" not in deploying.output()  # no clean-up ran: the kernel's work
