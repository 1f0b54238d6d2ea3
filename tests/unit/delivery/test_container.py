"""The container-engine layer on a fake runner: detection, exact command lines, one-line errors.

Nothing here starts a real engine: tests/support/fake_engine.py's ``FakeRunner`` answers each
command from the test's script and fails on any other, so each test states the command line it
expects. The e2e tests (tests/e2e/test_image.py) run the same code against real podman.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from delivery import image_build as image
from delivery import localbase, platforms
from delivery.engines.base import Bind, ContainerEngine
from delivery.engines.cli import EngineName
from delivery.engines.config import engine_environment
from delivery.engines.detect import detect_engine
from delivery.engines.docker import DockerEngine
from delivery.engines.podman import PodmanEngine
from delivery.errors import DeliveryError
from tests.support.fake_engine import (
    PODMAN_PUSH_STDERR,
    FakeRunner,
    docker_push_prints,
    engine,
    podman_push_writes,
    which_of,
)
from tests.support.paths import ROOT

# --- detection --------------------------------------------------------------------------------


def test_docker_is_preferred_when_its_engine_answers(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("/usr/bin/docker", "info", stdout="27.3.1\n")
    found = detect_engine(
        runner=runner, which=which_of("docker", "podman"), environ={}, state_dir=tmp_path
    )
    assert found.name == "docker"
    assert found.env == {}
    assert runner.argvs() == [("/usr/bin/docker", "info", "--format", "{{.ServerVersion}}")]


def test_a_docker_client_without_an_engine_falls_through_to_podman(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("/usr/bin/docker", "info", returncode=1, stderr="Cannot connect to the Docker daemon")
    found = detect_engine(
        runner=runner, which=which_of("docker", "podman"), environ={}, state_dir=tmp_path
    )
    assert found.name == "podman"
    assert found.executable == "/usr/bin/podman"
    # podman runs with the generated configuration, through its environment only.
    assert found.env["CONTAINERS_CONF"] == str(tmp_path / "containers.conf")
    assert found.env["CONTAINERS_STORAGE_CONF"] == str(tmp_path / "storage.conf")


def test_buildah_alone_is_found_but_cannot_run_containers(tmp_path: Path) -> None:
    found = detect_engine(
        runner=FakeRunner(), which=which_of("buildah"), environ={}, state_dir=tmp_path
    )
    assert found.name == "buildah"
    assert not found.can_run
    with pytest.raises(DeliveryError, match=r"^buildah only builds images: install podman"):
        found.run("img")


def test_no_engine_at_all_is_one_line() -> None:
    with pytest.raises(DeliveryError) as info:
        detect_engine(runner=FakeRunner(), which=which_of(), environ={})
    assert str(info.value) == (
        "no container engine found: install podman or docker, or set CONTAINER_ENGINE"
    )


def test_container_engine_variable_picks_the_engine(tmp_path: Path) -> None:
    found = detect_engine(
        runner=FakeRunner(),
        which=which_of("docker", "podman", "buildah"),
        environ={"CONTAINER_ENGINE": "buildah"},
        state_dir=tmp_path,
    )
    assert found.name == "buildah"


def test_explicit_choice_beats_the_variable(tmp_path: Path) -> None:
    found = detect_engine(
        "Podman",
        runner=FakeRunner(),
        which=which_of("podman", "buildah"),
        environ={"CONTAINER_ENGINE": "buildah"},
        state_dir=tmp_path,
    )
    assert found.name == "podman"


def test_unknown_engine_name_is_one_line() -> None:
    with pytest.raises(DeliveryError) as info:
        detect_engine("rkt", runner=FakeRunner(), which=which_of("rkt"), environ={})
    assert str(info.value) == (
        "unknown container engine 'rkt': use one of docker, podman, buildah (or the absolute path "
        "of one)"
    )


def test_an_engine_given_by_its_path_needs_no_path_entry_and_finds_buildah_beside_it(
    tmp_path: Path,
) -> None:
    # The pipeline rehearsal's stand-in for CodeBuild's docker: podman kept off the PATH, so a
    # buildspec that calls podman itself fails there as it would on CodeBuild.
    folder = tmp_path / "standin"
    folder.mkdir()
    for tool in ("podman", "buildah"):
        (folder / tool).write_text("#!/bin/sh\n")
        (folder / tool).chmod(0o755)
    found = detect_engine(
        runner=FakeRunner(),
        which=which_of(),
        environ={"CONTAINER_ENGINE": str(folder / "podman")},
        state_dir=tmp_path,
    )
    assert (found.name, found.executable) == ("podman", str(folder / "podman"))
    assert found.manifest_reader == str(folder / "buildah")


def test_an_engine_path_that_is_no_executable_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as info:
        detect_engine(str(tmp_path / "podman"), runner=FakeRunner(), which=which_of(), environ={})
    assert str(info.value) == f"container engine '{tmp_path / 'podman'}' is not an executable file"


def test_asked_for_engine_missing_from_path_is_one_line() -> None:
    with pytest.raises(DeliveryError, match=r"^container engine 'podman' not found on PATH"):
        detect_engine("podman", runner=FakeRunner(), which=which_of("docker"), environ={})


def test_asked_for_docker_whose_engine_is_down_is_one_line() -> None:
    runner = FakeRunner()
    runner.on("/usr/bin/docker", "info", returncode=1)
    with pytest.raises(DeliveryError, match=r"does not answer `docker info`: start it"):
        detect_engine("docker", runner=runner, which=which_of("docker"), environ={})


def test_engine_environment_writes_runc_no_short_names_and_project_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_STORAGE_CONF"):
        monkeypatch.delenv(var, raising=False)
    env = engine_environment(tmp_path)
    containers = Path(env["CONTAINERS_CONF"]).read_text()
    assert 'runtime = "runc"' in containers
    assert 'default_ulimits = ["nofile=20000:20000"' in containers
    registries = Path(env["CONTAINERS_REGISTRIES_CONF"]).read_text()
    assert "unqualified-search-registries = []" in registries
    assert 'short-name-mode = "disabled"' in registries
    storage = Path(env["CONTAINERS_STORAGE_CONF"]).read_text()
    assert 'driver = "overlay"' in storage
    assert f'graphroot = "{tmp_path.resolve() / "storage"}"' in storage
    # The run root is short enough for unix sockets wherever the project lives.
    runroot = storage.split('runroot = "')[1].split('"')[0]
    assert len(runroot) < 60


def test_engine_environment_keeps_variables_the_user_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTAINERS_CONF", "/etc/mine.conf")
    assert engine_environment(tmp_path)["CONTAINERS_CONF"] == "/etc/mine.conf"


# --- command lines ----------------------------------------------------------------------------


def write_iid(image_id: str) -> Callable[[Sequence[str]], None]:
    """An effect: the build writes ``image_id`` to its ``--iidfile``, as the engines do."""

    def effect(argv: Sequence[str]) -> None:
        if "build" in argv[:2] and "--iidfile" in argv:
            Path(argv[argv.index("--iidfile") + 1]).write_text(image_id)

    return effect


def test_podman_build_keeps_healthcheck_caches_layers_and_has_no_network(tmp_path: Path) -> None:
    runner = FakeRunner()
    iid = "sha256:" + "a" * 64
    runner.on("podman", "build")
    runner.effects.append(write_iid(iid))
    podman = PodmanEngine("podman", {"CONTAINERS_CONF": "c"}, runner)
    got = podman.build(
        tmp_path,
        tmp_path / "Dockerfile",
        ["svc:1.2.3", "svc:abc"],
        {"GIT_SHA": "abc", "BUILD_TIME": "2026-01-01T00:00:00Z"},
        log_path=tmp_path / "build.log",
    )
    assert got == iid
    (argv,) = runner.argvs()
    iidfile = argv[argv.index("--iidfile") + 1]
    assert list(argv) == [
        "podman", "build", "--format", "docker", "--layers", "--platform", "linux/amd64",
        "--network", "none", "--file", str(tmp_path / "Dockerfile"), "--iidfile", iidfile,
        "--tag", "svc:1.2.3", "--tag", "svc:abc",
        "--build-arg", "BUILD_TIME=2026-01-01T00:00:00Z", "--build-arg", "GIT_SHA=abc",
        # Also set on the final image directly: buildah's cache ignores ARG values in ENV/LABEL.
        "--env", "BUILD_TIME=2026-01-01T00:00:00Z",
        "--label", "org.opencontainers.image.created=2026-01-01T00:00:00Z",
        "--env", "GIT_SHA=abc", "--label", "org.opencontainers.image.revision=abc",
        str(tmp_path),
    ]  # fmt: skip
    assert runner.calls[0].env == {"CONTAINERS_CONF": "c"}
    assert (tmp_path / "build.log").exists()


def test_docker_build_has_no_format_flag(tmp_path: Path) -> None:
    argv = engine("docker").build_argv(
        tmp_path, tmp_path / "Dockerfile", ["x:1"], {"GIT_SHA": "1"}, iidfile=tmp_path / "iid"
    )
    assert "--format" not in argv
    assert "--env" not in argv  # BuildKit evaluates ARG-based ENV/LABEL on every build
    assert argv[:5] == ["build", "--platform", "linux/amd64", "--network", "none"]


# --- reproducible builds ----------------------------------------------------------------------

EPOCH = 1767225600  # 2026-01-01T00:00:00Z
# Written out, not read from delivery: what the registries and the engines call these.
V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
V2S2_CONFIG = "application/vnd.docker.container.image.v1+json"
# The name the local base image is built and looked up under.
LOCAL_BASE = "localhost/flask-fargate-base:bookworm"


def dockerfile_base() -> str:
    """The base the Dockerfile builds on when no BASE_IMAGE is passed: its ARG's default."""
    (line,) = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("ARG BASE_IMAGE=")
    ]
    return line.split("=", 1)[1]


@pytest.mark.parametrize("name", ["podman", "buildah"])
def test_podman_and_buildah_stamp_the_commit_time_on_config_and_files(
    tmp_path: Path, name: EngineName
) -> None:
    argv = engine(name).build_argv(
        tmp_path, tmp_path / "Dockerfile", ["x:1"], {}, iidfile=tmp_path / "i",
        source_date_epoch=EPOCH, no_cache=True,
    )  # fmt: skip
    assert argv[argv.index("--timestamp") + 1] == str(EPOCH)
    assert "--no-cache" in argv
    assert not any(arg.startswith("SOURCE_DATE_EPOCH") for arg in argv)  # podman would warn


def test_docker_gets_source_date_epoch_and_rewrites_file_times_where_buildkit_can(
    tmp_path: Path,
) -> None:
    docker = engine("docker")
    argv = docker.build_argv(
        tmp_path, tmp_path / "Dockerfile", ["x:1"], {}, iidfile=tmp_path / "i",
        source_date_epoch=EPOCH, rewrite_timestamps=True,
    )  # fmt: skip
    assert argv[argv.index("--build-arg") + 1] == f"SOURCE_DATE_EPOCH={EPOCH}"
    assert argv[argv.index("--output") + 1] == "type=docker,rewrite-timestamp=true"
    assert "--timestamp" not in argv
    without = docker.build_argv(
        tmp_path, tmp_path / "Dockerfile", ["x:1"], {}, iidfile=tmp_path / "i",
        source_date_epoch=EPOCH, rewrite_timestamps=False,
    )  # fmt: skip
    assert "--output" not in without
    assert f"SOURCE_DATE_EPOCH={EPOCH}" in without


@pytest.mark.parametrize(
    ("inspect_output", "returncode", "rewrites"),
    [
        ("Name: default\nDriver: docker\nBuildKit version: v0.16.0\n", 0, True),
        ("Name: default\nDriver: docker\n Buildkit: v0.13.2\n", 0, True),
        ("Name: default\nDriver: docker\n Buildkit: v0.12.5\n", 0, False),
        ("", 1, False),  # no buildx: the classic builder cannot
    ],
)
def test_docker_rewrites_file_times_only_with_buildkit_0_13_or_later(
    inspect_output: str, returncode: int, rewrites: bool
) -> None:
    runner = FakeRunner()
    runner.on("docker", "buildx", "inspect", returncode=returncode, stdout=inspect_output)
    assert engine("docker", runner).rewrites_timestamps() is rewrites
    assert engine("podman", FakeRunner()).rewrites_timestamps()  # --timestamp, no question asked


def _image_archive(path: Path, config: Mapping[str, object], layer: bytes = b"layer") -> None:
    """A docker-archive holding one image: ``config`` and one layer."""
    body = json.dumps(config).encode()
    name = hashlib.sha256(body).hexdigest() + ".json"
    with tarfile.open(path, "w") as tar:
        for member, data in (
            (name, body),
            ("0/layer.tar", layer),
            ("manifest.json", json.dumps([{"Config": name, "Layers": ["0/layer.tar"]}]).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


BUILDAH_1_28_CONFIG: dict[str, object] = {
    "created": "2026-01-01T00:00:00Z",
    "container": "3513202b6d0c2d7a227577ec53e5c1433e38e919feef2171127125c0f9abadaa",
    "parent": "sha256:b90cd12b6387d1361fa30c01f2f9de606320ff0b2d9a70067d6cd125f5c496d2",
    "config": {"Hostname": "122a4f24d0cc", "User": "10001:10001"},
    "container_config": {"Hostname": "122a4f24d0cc", "User": "10001:10001"},
    "history": [
        {"created_by": "RUN useradd", "comment": "FROM localhost/base:1"},
        {"created_by": "COPY app", "comment": "FROM dee72feb92cb"},
    ],
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
}


def test_a_podman_build_with_a_time_is_stored_without_the_build_containers_identity(
    tmp_path: Path,
) -> None:
    runner = FakeRunner()
    built = "sha256:" + "a" * 64
    runner.on("podman", "build")
    runner.effects.append(write_iid(built))
    runner.on("podman", "save")
    saved: list[bytes] = []

    def save_and_capture_load(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "save"):
            _image_archive(Path(argv[argv.index("--output") + 1]), BUILDAH_1_28_CONFIG)
        if tuple(argv[:2]) == ("podman", "load"):
            saved.append(Path(argv[argv.index("--input") + 1]).read_bytes())

    runner.effects.append(save_and_capture_load)
    runner.on("podman", "load")
    runner.on("podman", "tag")
    runner.on("podman", "rmi")
    got = engine("podman", runner).build(
        tmp_path, tmp_path / "Dockerfile", ["svc:1", "svc:abc"], {}, source_date_epoch=EPOCH
    )
    # The stored config: the same image minus the build container; its id is sha256 of it.
    with tarfile.open(fileobj=io.BytesIO(saved[0])) as tar:
        index = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        body = tar.extractfile(index[0]["Config"]).read()  # type: ignore[union-attr]
        assert tar.extractfile("0/layer.tar").read() == b"layer"  # type: ignore[union-attr]
    config = json.loads(body)
    assert got == "sha256:" + hashlib.sha256(body).hexdigest()
    assert "container" not in config
    assert "parent" not in config
    assert config["config"] == {"Hostname": "", "User": "10001:10001"}
    assert config["history"] == [
        {"created_by": "RUN useradd", "comment": "FROM localhost/base:1"},
        {"created_by": "COPY app"},
    ]
    assert [argv[1:] for argv in runner.argvs()[1:]] == [
        ("save", "--format", "docker-archive", "--output", ANY_PATH, "svc:1"),
        ("load", "--quiet", "--input", ANY_PATH),
        ("tag", got, "svc:1"),
        ("tag", got, "svc:abc"),
        ("rmi", built),
    ]


class _AnyPath(str):
    """Equal to any string: an argv position holding a temporary path."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    def __hash__(self) -> int:
        return 0


ANY_PATH = _AnyPath()


def test_buildah_names_the_normalized_image_as_its_build_did(tmp_path: Path) -> None:
    runner = FakeRunner()
    built = "sha256:" + "c" * 64
    runner.on("buildah", "build")
    runner.effects.append(write_iid(built))
    runner.on("buildah", "push")

    def save(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("buildah", "push"):
            archive = argv[3].removeprefix("docker-archive:").rsplit(":", 2)[0]
            _image_archive(Path(archive), BUILDAH_1_28_CONFIG)

    runner.effects.append(save)
    runner.on("buildah", "pull")
    runner.on("buildah", "tag")
    runner.on("buildah", "rmi")
    got = engine("buildah", runner).build(
        tmp_path, tmp_path / "Dockerfile", ["svc:1", "reg.example/team/svc:1"], {},
        source_date_epoch=EPOCH,
    )  # fmt: skip
    assert [argv[1:] for argv in runner.argvs() if argv[1] == "tag"] == [
        # buildah's own tag would say docker.io/library/svc:1 for the short name.
        ("tag", got, "localhost/svc:1"),
        ("tag", got, "reg.example/team/svc:1"),
    ]


def test_an_already_clean_config_is_left_alone(tmp_path: Path) -> None:
    runner = FakeRunner()
    built = "sha256:" + "b" * 64
    runner.on("podman", "build")
    runner.effects.append(write_iid(built))
    runner.on("podman", "save")
    clean = {"created": "2026-01-01T00:00:00Z", "config": {"Hostname": ""}, "history": []}

    def save(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "save"):
            _image_archive(Path(argv[argv.index("--output") + 1]), clean)

    runner.effects.append(save)
    got = engine("podman", runner).build(
        tmp_path, tmp_path / "Dockerfile", ["svc:1"], {}, source_date_epoch=EPOCH
    )
    assert got == built
    assert [argv[1] for argv in runner.argvs()] == ["build", "save"]  # no load, tag, rmi


@pytest.mark.parametrize("name", ["podman", "buildah", "docker"])
def test_cache_from_is_passed_once_per_image(tmp_path: Path, name: EngineName) -> None:
    argv = engine(name).build_argv(
        tmp_path,
        tmp_path / "Dockerfile",
        ["x:1"],
        {},
        iidfile=tmp_path / "iid",
        cache_from=["repo/app:1.0.0", "repo/app:sha-abc"],
    )
    at = argv.index("--cache-from")
    assert argv[at : at + 4] == [
        "--cache-from",
        "repo/app:1.0.0",
        "--cache-from",
        "repo/app:sha-abc",
    ]


def test_build_image_hands_cache_from_to_the_engine(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    class Recording(DockerEngine):
        def build(self, *args: object, **kwargs: object) -> str:
            seen.update(kwargs)
            return "sha256:" + "c" * 64

        def image_size(self, ref: str) -> int:
            return 1

    (tmp_path / "uv.lock").write_text("")
    runner = FakeRunner()
    runner.on("uv", "export", stdout="")
    runner.on(*image._pip_command(), "download")
    runner.on("docker", "buildx", "inspect", stdout="Platforms: linux/amd64\nBuildkit: v0.16.0\n")
    runner.on("docker", "image", "inspect", returncode=1)  # the public base: not pulled yet
    image.build_image(
        "svc", "1.0.0", "a" * 40,
        engine=Recording("docker", {}, runner), source_date_epoch=EPOCH,
        context=tmp_path, wheels_dir=tmp_path / "w", cache_from=("repo/svc:0.9.0",),
    )  # fmt: skip
    assert seen["cache_from"] == ("repo/svc:0.9.0",)


def test_failed_build_is_one_line_naming_the_log(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "build", returncode=1, stderr="STEP 3/9: RUN x\nError: exit status 1\n")
    with pytest.raises(DeliveryError) as info:
        engine(runner=runner).build(
            tmp_path, tmp_path / "Dockerfile", ["x:1"], log_path=tmp_path / "b.log"
        )
    assert (
        str(info.value)
        == f"image build failed: Error: exit status 1 (full log: {tmp_path / 'b.log'})"
    )


def test_run_is_locked_down_and_keeps_env_values_off_the_command_line(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    container = engine(runner=runner).run(
        "svc:1",
        env={"SECRET_KEY": "s3cret", "DRAIN_SECONDS": "1"},
        publish={18080: 8000},
        name="probe",
        user="10001:10001",
        binds=[Bind(tmp_path / "tmp", "/tmp"), Bind(tmp_path / "cfg", "/cfg", True)],
    )
    assert container == "c0ffee"
    (call,) = runner.calls
    assert list(call.argv) == [
        "podman", "run", "--detach", "--name", "probe",
        # Read-only, and no tmpfs podman would add on its own: Fargate gives none.
        "--read-only", "--read-only-tmpfs=false",
        "--mount", f"type=bind,source={tmp_path / 'tmp'},target=/tmp",
        "--mount", f"type=bind,source={tmp_path / 'cfg'},target=/cfg,readonly=true",
        "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--user", "10001:10001",
        "--publish", "127.0.0.1:18080:8000",
        "--env", "DRAIN_SECONDS", "--env", "SECRET_KEY", "svc:1",
    ]  # fmt: skip
    assert "s3cret" not in " ".join(call.argv)
    assert call.env["SECRET_KEY"] == "s3cret"  # noqa: S105 - a test value


def test_docker_run_has_no_podman_only_flags() -> None:
    argv = engine("docker").run_argv("svc:1")
    assert argv == [
        "run", "--detach", "--read-only", "--cap-drop=ALL",
        "--security-opt", "no-new-privileges", "svc:1",
    ]  # fmt: skip
    assert not any(arg.startswith("--tmpfs") for arg in argv)


def test_stop_waits_then_reports_the_exit_code() -> None:
    runner = FakeRunner()
    runner.on("podman", "stop")
    runner.on("podman", "inspect", stdout=json.dumps([{"State": {"ExitCode": 0}}]))
    assert engine(runner=runner).stop("c1", timeout=7) == 0
    assert runner.argvs()[0] == ("podman", "stop", "--time", "7", "c1")


def test_podman_push_logs_in_through_stdin_to_a_private_auth_file() -> None:
    runner = FakeRunner()
    digest = "sha256:" + "b" * 64
    runner.on("podman", "login", stdout="Login Succeeded!\n")
    podman_push_writes(runner, digest)
    got = engine(runner=runner).push(
        "svc:1", "123.dkr.ecr.eu-north-1.amazonaws.com/svc:1", "AWS", "tok3n"
    )
    # The digest podman wrote to --digestfile: its output names none.
    assert got == digest
    login, push = runner.calls
    authfile = login.argv[login.argv.index("--authfile") + 1]
    assert list(login.argv) == [
        "podman", "login", "--authfile", authfile, "--username", "AWS", "--password-stdin",
        "123.dkr.ecr.eu-north-1.amazonaws.com",
    ]  # fmt: skip
    assert login.stdin == "tok3n"
    assert all("tok3n" not in " ".join(call.argv) for call in runner.calls)
    digestfile = push.argv[push.argv.index("--digestfile") + 1]
    assert list(push.argv) == [
        "podman", "push", "--authfile", authfile, "--format", "v2s2", "--digestfile", digestfile,
        "svc:1", "docker://123.dkr.ecr.eu-north-1.amazonaws.com/svc:1",
    ]  # fmt: skip


def test_a_podman_push_that_leaves_no_digest_is_one_line() -> None:
    runner = FakeRunner()
    runner.on("podman", "login")
    runner.on("podman", "push", stderr=PODMAN_PUSH_STDERR)  # a push that wrote no digest file
    with pytest.raises(DeliveryError) as info:
        engine(runner=runner).push("svc:1", "reg.example/svc:1", "AWS", "pw")
    assert str(info.value) == "podman: pushed reg.example/svc:1 but found no digest"


def test_docker_push_uses_a_private_docker_config() -> None:
    runner = FakeRunner()
    runner.on("docker", "login", stdout="Login Succeeded\n")
    runner.on("docker", "tag")
    docker_push_prints(runner, "1", "sha256:" + "c" * 64)
    got = engine("docker", runner).push("svc:1", "reg.example/svc:1", "AWS", "pw")
    assert got == "sha256:" + "c" * 64
    assert [call.argv[1:] for call in runner.calls] == [
        ("login", "--username", "AWS", "--password-stdin", "reg.example"),
        ("tag", "svc:1", "reg.example/svc:1"),
        ("push", "reg.example/svc:1"),
    ]
    configs = {call.env["DOCKER_CONFIG"] for call in runner.calls}
    assert len(configs) == 1
    assert runner.calls[0].stdin == "pw"


def test_failed_login_is_one_line() -> None:
    runner = FakeRunner()
    runner.on("podman", "login", returncode=125, stderr="Error: authentication required\n")
    with pytest.raises(DeliveryError) as info:
        engine(runner=runner).push("svc:1", "reg.example/svc:1", "AWS", "pw")
    assert str(info.value) == "podman: login to reg.example failed: Error: authentication required"


def test_image_exists_per_engine() -> None:
    cases: list[tuple[EngineName, tuple[str, ...]]] = [
        ("podman", ("podman", "image", "exists", "r")),
        ("docker", ("docker", "image", "inspect", "r")),
        ("buildah", ("buildah", "inspect", "--type", "image", "r")),
    ]
    for name, expected in cases:
        runner = FakeRunner()
        runner.on(*expected)
        assert engine(name, runner).image_exists("r")
        assert runner.argvs() == [expected]


def test_missing_image_is_one_line_on_inspect() -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "inspect", returncode=125, stderr="Error: r: image not known\n")
    with pytest.raises(DeliveryError) as info:
        engine(runner=runner).image_size("r")
    assert str(info.value) == "podman: size of r failed: Error: r: image not known"


# --- manifests --------------------------------------------------------------------------------


def _docker_archive(path: Path, config: bytes, layers: list[bytes]) -> None:
    with tarfile.open(path, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("cfg.json", config)
        names = []
        for index, layer in enumerate(layers):
            names.append(f"{index}/layer.tar")
            add(names[-1], layer)
        add("manifest.json", json.dumps([{"Config": "cfg.json", "Layers": names}]).encode())


def test_manifest_is_v2s2_with_the_image_id_as_config_and_sha256_of_its_bytes(
    tmp_path: Path,
) -> None:
    config, layers = b'{"architecture":"amd64"}', [b"layer-one", b"layer-two!"]
    runner = FakeRunner()

    def save_writes_an_archive(argv: Sequence[str]) -> None:
        _docker_archive(Path(argv[argv.index("--output") + 1]), config, layers)

    runner.effects.append(save_writes_an_archive)
    runner.on("podman", "save")
    podman = PodmanEngine("podman", {}, runner)
    media_type, body, digest = podman.manifest("svc:1")
    assert runner.argvs()[0][:4] == ("podman", "save", "--format", "docker-archive")
    assert media_type == "application/vnd.docker.distribution.manifest.v2+json"
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()
    manifest = json.loads(body)
    assert manifest["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    assert [(layer["digest"], layer["size"]) for layer in manifest["layers"]] == [
        ("sha256:" + hashlib.sha256(data).hexdigest(), len(data)) for data in layers
    ]


def _stored(manifest: dict[str, object], config: str, image_id: str) -> str:
    return json.dumps({"Manifest": json.dumps(manifest), "Config": config, "FromImageID": image_id})


def test_manifest_is_read_from_the_store_when_buildah_shares_it() -> None:
    config = '{"architecture":"amd64"}'
    config_id = hashlib.sha256(config.encode()).hexdigest()
    stored = {
        "schemaVersion": 2,
        "mediaType": V2S2,
        "config": {
            "mediaType": V2S2_CONFIG,
            "size": len(config),
            "digest": f"sha256:{config_id}",
        },
        "layers": [],
    }
    runner = FakeRunner()
    runner.on("/usr/bin/buildah", "inspect", stdout=_stored(stored, config, config_id))
    podman = PodmanEngine("podman", {"CONTAINERS_STORAGE_CONF": "s"}, runner, "/usr/bin/buildah")
    media_type, body, digest = podman.manifest("svc:1")
    assert runner.argvs() == [("/usr/bin/buildah", "inspect", "--type", "image", "svc:1")]
    assert runner.calls[0].env == {"CONTAINERS_STORAGE_CONF": "s"}  # the same image store
    assert (media_type, json.loads(body)) == (V2S2, stored)
    assert digest == "sha256:" + hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json"},  # e.g. the imported base
        {"config": {"digest": "sha256:" + "0" * 64}},  # not this image's config
    ],
)
def test_an_unfit_stored_manifest_falls_back_to_exporting(change: dict[str, object]) -> None:
    config = "{}"
    config_id = hashlib.sha256(config.encode()).hexdigest()
    stored = {"mediaType": V2S2, "config": {"digest": f"sha256:{config_id}"}}
    runner = FakeRunner()
    runner.on("buildah", "inspect", stdout=_stored({**stored, **change}, config, config_id))
    runner.on("podman", "save", returncode=1, stderr="Error: exported nothing")
    podman = PodmanEngine("podman", {}, runner, "buildah")
    with pytest.raises(DeliveryError, match="save svc:1 failed"):
        podman.manifest("svc:1")
    assert [argv[:2] for argv in runner.argvs()] == [("buildah", "inspect"), ("podman", "save")]


def test_podman_reads_manifests_through_buildah_when_it_is_installed(tmp_path: Path) -> None:
    found = detect_engine(
        "podman", runner=FakeRunner(), which=which_of("podman", "buildah"), state_dir=tmp_path
    )
    assert found.manifest_reader == "/usr/bin/buildah"
    alone = detect_engine(
        "podman", runner=FakeRunner(), which=which_of("podman"), state_dir=tmp_path
    )
    assert alone.manifest_reader is None


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("podman", ("podman", "rm", "--force", "--time", "0", "c1")),
        ("docker", ("docker", "rm", "--force", "c1")),
    ],
)
def test_discard_kills_without_waiting_for_a_graceful_stop(
    name: EngineName, argv: tuple[str, ...]
) -> None:
    runner = FakeRunner()
    runner.on(*argv)
    engine(name, runner).discard("c1")
    assert runner.argvs() == [argv]


# --- wheels -----------------------------------------------------------------------------------


REQUIREMENTS = (
    "flask==3.1.3 \\\n    --hash=sha256:{flask}\n"
    "markupsafe==3.0.4 \\\n    --hash=sha256:{other} \\\n    --hash=sha256:{markupsafe}\n"
)


def test_prepare_wheels_downloads_once_then_is_cached_and_prunes_strays(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "uv.lock").write_text("lock v1")
    dest = tmp_path / "wheels"
    files = {"flask-3.1.3-py3-none-any.whl": b"F", "markupsafe-3.0.4-cp311.whl": b"M"}
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    requirements = REQUIREMENTS.format(
        flask=hashes["flask-3.1.3-py3-none-any.whl"],
        markupsafe=hashes["markupsafe-3.0.4-cp311.whl"],
        other="0" * 64,
    )
    runner = FakeRunner()
    runner.on("uv", "export", stdout=requirements)
    runner.on(*image._pip_command(), "download")

    def download(argv: Sequence[str]) -> None:
        if "download" in argv:
            for name, data in files.items():
                (dest / name).write_bytes(data)

    runner.effects.append(download)

    dest.mkdir()
    (dest / "stale-0.1-py3-none-any.whl").write_bytes(b"old")
    first = image.prepare_wheels(dest, project_dir=project, runner=runner)
    assert first.downloaded
    assert sorted(path.name for path in first.files) == sorted(files)
    assert not (dest / "stale-0.1-py3-none-any.whl").exists()
    assert (dest / "requirements.txt").read_text() == requirements
    lock_hash = hashlib.sha256(b"lock v1").hexdigest()
    assert (dest / "uv.lock.sha256").read_text() == f"{lock_hash}  uv.lock\n"
    pip = next(argv for argv in runner.argvs() if "download" in argv)
    assert "--only-binary=:all:" in pip
    assert "--require-hashes" in pip
    assert pip[pip.index("--python-version") + 1] == "3.11"
    # The task definition's architecture by default (X86_64), whatever this machine's is.
    assert "manylinux2014_x86_64" in pip
    assert (dest / "machine").read_text() == "x86_64\n"

    runner.calls.clear()
    second = image.prepare_wheels(dest, project_dir=project, runner=runner)
    assert not second.downloaded
    assert [argv[:2] for argv in runner.argvs()] == [("uv", "export")]

    (project / "uv.lock").write_text("lock v2")  # a new lock: the Dockerfile's check would fail
    assert image.prepare_wheels(dest, project_dir=project, runner=runner).downloaded


def test_wheels_for_another_architecture_are_replaced_not_reused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "uv.lock").write_text("lock")
    dest = tmp_path / "wheels"
    amd64, arm64 = b"flask x86_64 build", b"flask aarch64 build"
    hashes = [hashlib.sha256(amd64).hexdigest(), hashlib.sha256(arm64).hexdigest()]
    requirements = (
        f"flask==3.1.3 \\\n    --hash=sha256:{hashes[0]} \\\n    --hash=sha256:{hashes[1]}\n"
    )
    runner = FakeRunner()
    runner.on("uv", "export", stdout=requirements)
    runner.on(*image._pip_command(), "download")

    def download(argv: Sequence[str]) -> None:
        if "download" in argv:
            machine = "aarch64" if "manylinux2014_aarch64" in argv else "x86_64"
            (dest / f"flask-3.1.3-{machine}.whl").write_bytes(
                arm64 if machine == "aarch64" else amd64
            )

    runner.effects.append(download)
    image.prepare_wheels(dest, project_dir=project, runner=runner)
    # The lock names both builds' hashes: only the recorded machine tells them apart.
    arm = image.prepare_wheels(dest, project_dir=project, platform="linux/arm64", runner=runner)
    assert arm.downloaded
    assert [path.name for path in arm.files] == ["flask-3.1.3-aarch64.whl"]
    pip = [argv for argv in runner.argvs() if "download" in argv][-1]
    assert "manylinux_2_17_aarch64" in pip
    assert not any("x86_64" in arg for arg in pip)


def test_uv_missing_is_one_line(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("uv", returncode=127, stderr="uv: command not found")
    with pytest.raises(DeliveryError, match=r"^uv not found: run bin/bootstrap"):
        image.prepare_wheels(tmp_path, project_dir=tmp_path, runner=runner)


# --- local base -------------------------------------------------------------------------------


def test_local_base_present_is_just_returned() -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "exists")
    assert localbase.ensure_local_base(engine(runner=runner)) == LOCAL_BASE
    assert runner.argvs() == [("podman", "image", "exists", LOCAL_BASE)]


def test_local_base_without_debootstrap_is_one_line() -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "exists", returncode=1)
    with pytest.raises(DeliveryError) as info:
        localbase.ensure_local_base(engine(runner=runner), which=which_of("tar"))
    assert str(info.value) == (
        "the local base image needs debootstrap: run bin/bootstrap (apt-get install "
        "debootstrap), or pass a base image that exists"
    )


def test_local_base_needs_root() -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "exists", returncode=1)
    with pytest.raises(DeliveryError, match=r"^the local base image needs root \(debootstrap\)"):
        localbase.ensure_local_base(
            engine(runner=runner),
            which=which_of("tar", "debootstrap"),
            is_root=False,
        )


def test_local_base_is_debootstrapped_trimmed_and_imported(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "exists", returncode=1)
    runner.on("podman", "image", "inspect", stdout="sha256:" + "d" * 64)
    runner.on("debootstrap")
    runner.on("tar")
    runner.on("podman", "import")

    def fake_debootstrap(argv: Sequence[str]) -> None:
        if argv[0] == "debootstrap":
            rootfs = Path(argv[-2])
            (rootfs / "var/cache/apt/archives").mkdir(parents=True)
            (rootfs / "var/cache/apt/archives/python3.deb").write_text("deb")
            (rootfs / "usr/share/doc/python3").mkdir(parents=True)
            (rootfs / "usr/share/doc/python3/copyright").write_text("PSF")
            (rootfs / "usr/share/doc/python3/changelog.gz").write_text("long")
            (rootfs / "usr/bin").mkdir(parents=True)
            (rootfs / "usr/bin/python3").write_text("elf")

    runner.effects.append(fake_debootstrap)
    podman = PodmanEngine("podman", {}, runner)
    ref = localbase.ensure_local_base(
        podman,
        work_dir=tmp_path,
        which=which_of("tar", "debootstrap"),
        is_root=True,
        mirror="http://mirror.example/debian",
    )
    assert ref == LOCAL_BASE
    argvs = runner.argvs()
    debootstrap = next(argv for argv in argvs if argv[0] == "debootstrap")
    assert debootstrap[:4] == (
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
        "bookworm",
    )
    assert debootstrap[-1] == "http://mirror.example/debian"
    imported = next(argv for argv in argvs if argv[:2] == ("podman", "import"))
    assert imported[-1] == LOCAL_BASE
    assert imported[2:4] == ("--change", "ENV LANG=C.UTF-8")
    # The temporary root filesystem and tarball are gone afterwards.
    assert list(tmp_path.iterdir()) == []


def test_trim_keeps_copyright_files_and_drops_caches(tmp_path: Path) -> None:
    (tmp_path / "var/cache/apt/archives").mkdir(parents=True)
    (tmp_path / "var/cache/apt/archives/x.deb").write_text("deb")
    (tmp_path / "usr/share/doc/pkg").mkdir(parents=True)
    (tmp_path / "usr/share/doc/pkg/copyright").write_text("c")
    (tmp_path / "usr/share/doc/pkg/README").write_text("r")
    (tmp_path / "usr/share/doc/empty").mkdir()
    localbase.trim_rootfs(tmp_path)
    assert not (tmp_path / "var/cache/apt/archives").exists()
    assert (tmp_path / "var/cache/apt").is_dir()
    assert (tmp_path / "usr/share/doc/pkg/copyright").exists()
    assert not (tmp_path / "usr/share/doc/pkg/README").exists()
    assert not (tmp_path / "usr/share/doc/empty").exists()


# --- the high-level build ---------------------------------------------------------------------


def git_log_answers(runner: FakeRunner, context: Path, sha: str, epoch: int = EPOCH) -> None:
    """Script git's committer time of ``sha``: the time a build of it carries."""
    runner.on("git", "-C", str(context), "log", "-1", "--format=%ct", sha, stdout=f"{epoch}\n")


def clean_save(runner: FakeRunner, engine_name: str = "podman") -> None:
    """Script ``save`` writing an image whose config is already normalized (nothing to redo)."""
    runner.on(engine_name, "save")

    def save(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == (engine_name, "save"):
            _image_archive(Path(argv[argv.index("--output") + 1]), {"config": {}, "history": []})

    runner.effects.append(save)


@pytest.fixture
def amd64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine is an amd64 one, whatever runs the tests."""
    monkeypatch.setattr(platforms, "host_platform", lambda: "linux/amd64")


@pytest.mark.usefixtures("amd64_host")
def test_build_image_tags_version_and_sha_and_passes_the_build_args(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    git_log_answers(runner, tmp_path, "abc123")
    runner.on("podman", "build")
    runner.effects.append(write_iid("sha256:" + "e" * 64))
    clean_save(runner)
    runner.on("podman", "image", "inspect", "--format", "{{.Size}}", stdout="1000\n")
    runner.on("podman", "image", "exists")
    podman = engine(runner=runner)
    prepared: list[tuple[Path, str]] = []
    monkeypatch.setattr(
        image,
        "prepare_wheels",
        lambda dest, platform, **_: prepared.append((dest, platform)),
    )
    monkeypatch.setattr(image, "ensure_local_base", lambda _engine: "localhost/base:1")
    built = image.build_image("svc", "1.2.3", "abc123", engine=podman, context=tmp_path)
    assert prepared == [(tmp_path / "build" / "wheels", "linux/amd64")]
    build = next(argv for argv in runner.argvs() if argv[1] == "build")
    args = [build[i + 1] for i, arg in enumerate(build) if arg == "--build-arg"]
    assert args == [
        "BASE_IMAGE=localhost/base:1",
        # The commit's time, not the clock's: a rebuild of the commit says the same.
        "BUILD_TIME=2026-01-01T00:00:00Z",
        "GIT_SHA=abc123",
    ]
    assert build[build.index("--timestamp") + 1] == str(EPOCH)
    assert build[build.index("--platform") + 1] == "linux/amd64"
    assert built.tags == ("svc:1.2.3", "svc:abc123")
    assert built.base_image == "localhost/base:1"
    assert built.above_base_bytes == 0
    assert (built.platform, built.source_date_epoch, built.reproducible) == (
        "linux/amd64",
        EPOCH,
        True,
    )


@pytest.mark.usefixtures("amd64_host")
def test_build_image_with_docker_uses_the_public_base_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    git_log_answers(runner, tmp_path, "f00")
    runner.on("docker", "buildx", "inspect", stdout="Platforms: linux/amd64, linux/386\n")
    runner.on("docker", "build")
    runner.effects.append(write_iid("sha256:" + "e" * 64))
    runner.on("docker", "image", "inspect", "--format", "{{.Size}}", stdout="5\n")
    runner.on("docker", "image", "inspect", stdout="sha256:" + "e" * 64)
    monkeypatch.setattr(image, "prepare_wheels", lambda dest, **_: None)

    def no_local_base(_engine: ContainerEngine) -> str:
        raise AssertionError("docker builds must not debootstrap")

    monkeypatch.setattr(image, "ensure_local_base", no_local_base)
    built = image.build_image(
        "svc", "1.0.0", "f00", engine=engine("docker", runner), context=tmp_path
    )
    build = next(argv for argv in runner.argvs() if argv[1] == "build")
    assert not any(arg.startswith("BASE_IMAGE=") for arg in build)
    assert built.base_image == dockerfile_base()
    # No BuildKit version in the builder's answer: the config's times are pinned, the files' not,
    # and the result says so.
    assert f"SOURCE_DATE_EPOCH={EPOCH}" in build
    assert "--output" not in build
    assert not built.reproducible


def test_a_build_whose_commit_time_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("git", returncode=128, stderr="fatal: bad object e2e0000\n")
    with pytest.raises(DeliveryError) as info:
        image.build_image("svc", "1.0.0", "e2e0000", engine=engine(runner=runner), context=tmp_path)
    assert str(info.value) == (
        f"cannot read the commit time of e2e0000 in {tmp_path}: fatal: bad object e2e0000 "
        "(build from a git checkout of that commit)"
    )
    assert [argv[0] for argv in runner.argvs()] == ["git"]  # nothing built


def test_the_local_base_is_refused_for_another_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platforms, "host_platform", lambda: "linux/arm64")
    monkeypatch.setattr(platforms, "emulated", lambda platform, binfmt_dir=None: True)
    runner = FakeRunner()
    with pytest.raises(DeliveryError) as info:
        image.build_image(
            "svc", "1.0.0", "f00", engine=engine(runner=runner), context=tmp_path, local_base=True
        )
    assert str(info.value) == (
        "the local base image is built for this linux/arm64 machine, not for linux/amd64 (the "
        "task definition's architecture): pass a base image for linux/amd64, or build on a "
        "machine of that architecture"
    )
    assert runner.argvs() == []
