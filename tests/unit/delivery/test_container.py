"""The container-engine layer on a fake runner: detection, exact command lines, one-line errors.

Nothing here starts a real engine: a ``FakeRunner`` answers every command from a script of
``(argv prefix, result)`` rules and records what was run, so each test states the command line it
expects. The e2e tests (tests/e2e/test_image.py) run the same code against real podman.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from delivery import container as image
from delivery import localbase
from delivery.container import Completed, ContainerEngine, detect_engine
from delivery.errors import DeliveryError


@dataclass
class Call:
    argv: tuple[str, ...]
    env: dict[str, str]
    stdin: str | None


@dataclass
class FakeRunner:
    """Answers commands by argv prefix (first matching rule wins); anything else exits 0.

    ``effects`` run on every call, before the answer: what the real command would leave behind
    (an image id file, an archive, downloaded wheels, a root filesystem).
    """

    rules: list[tuple[tuple[str, ...], Completed]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    effects: list[Callable[[Sequence[str]], None]] = field(default_factory=list)

    def on(self, *prefix: str, returncode: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.rules.append((prefix, Completed(prefix, returncode, stdout, stderr)))

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.calls.append(Call(tuple(argv), dict(env or {}), stdin))
        for effect in self.effects:
            effect(argv)
        for prefix, result in self.rules:
            if tuple(argv[: len(prefix)]) == prefix:
                return Completed(tuple(argv), result.returncode, result.stdout, result.stderr)
        return Completed(tuple(argv), 0, "", "")

    def argvs(self) -> list[tuple[str, ...]]:
        return [call.argv for call in self.calls]


def which_of(*present: str) -> Callable[[str], str | None]:
    """A shutil.which stand-in that finds exactly ``present``."""
    return lambda name: f"/usr/bin/{name}" if name in present else None


def engine(name: image.EngineName = "podman", runner: FakeRunner | None = None) -> ContainerEngine:
    return ContainerEngine(name=name, executable=name, env={}, runner=runner or FakeRunner())


# --- detection --------------------------------------------------------------------------------


def test_docker_is_preferred_when_its_engine_answers(tmp_path: Path) -> None:
    runner = FakeRunner()
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
    assert str(info.value) == "unknown container engine 'rkt': use one of docker, podman, buildah"


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
    env = image.engine_environment(tmp_path)
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
    assert image.engine_environment(tmp_path)["CONTAINERS_CONF"] == "/etc/mine.conf"


# --- command lines ----------------------------------------------------------------------------


def test_podman_build_keeps_healthcheck_caches_layers_and_has_no_network(tmp_path: Path) -> None:
    runner = FakeRunner()
    iid = "sha256:" + "a" * 64

    def write_iid(argv: Sequence[str]) -> None:
        Path(argv[argv.index("--iidfile") + 1]).write_text(iid)

    runner.effects.append(write_iid)
    podman = ContainerEngine("podman", "podman", {"CONTAINERS_CONF": "c"}, runner)
    got = podman.build(
        tmp_path,
        tmp_path / "Dockerfile",
        ["svc:1.2.3", "svc:abc"],
        {"GIT_SHA": "abc", "APP_VERSION": "1.2.3"},
        log_path=tmp_path / "build.log",
    )
    assert got == iid
    (argv,) = runner.argvs()
    iidfile = argv[argv.index("--iidfile") + 1]
    assert list(argv) == [
        "podman", "build", "--format", "docker", "--layers", "--network", "none",
        "--file", str(tmp_path / "Dockerfile"), "--iidfile", iidfile,
        "--tag", "svc:1.2.3", "--tag", "svc:abc",
        "--build-arg", "APP_VERSION=1.2.3", "--build-arg", "GIT_SHA=abc",
        # Also set on the final image directly: buildah's cache ignores ARG values in ENV/LABEL.
        "--env", "APP_VERSION=1.2.3", "--label", "org.opencontainers.image.version=1.2.3",
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
    assert argv[:3] == ["build", "--network", "none"]


@pytest.mark.parametrize("name", ["podman", "buildah", "docker"])
def test_cache_from_is_passed_once_per_image(tmp_path: Path, name: image.EngineName) -> None:
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

    class Recording(ContainerEngine):
        def build(self, *args: object, **kwargs: object) -> str:
            seen.update(kwargs)
            return "sha256:" + "c" * 64

        def image_size(self, ref: str) -> int:
            return 1

    (tmp_path / "uv.lock").write_text("")
    runner = FakeRunner()
    runner.on("uv", "export", stdout="")
    image.build_image(
        "svc", "1.0.0", "a" * 40,
        engine=Recording("docker", "docker", {}, runner),
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


def test_run_is_locked_down_and_keeps_env_values_off_the_command_line() -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    container = engine(runner=runner).run(
        "svc:1",
        env={"SECRET_KEY": "s3cret", "DRAIN_SECONDS": "1"},
        publish={18080: 8000},
        name="probe",
        user="10001:10001",
    )
    assert container == "c0ffee"
    (call,) = runner.calls
    assert list(call.argv) == [
        "podman", "run", "--detach", "--name", "probe", "--read-only",
        "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777", "--cap-drop=ALL",
        "--security-opt", "no-new-privileges", "--user", "10001:10001",
        "--publish", "127.0.0.1:18080:8000",
        "--env", "DRAIN_SECONDS", "--env", "SECRET_KEY", "svc:1",
    ]  # fmt: skip
    assert "s3cret" not in " ".join(call.argv)
    assert call.env["SECRET_KEY"] == "s3cret"  # noqa: S105 - a test value


def test_stop_waits_then_reports_the_exit_code() -> None:
    runner = FakeRunner()
    runner.on("podman", "inspect", stdout=json.dumps([{"State": {"ExitCode": 0}}]))
    assert engine(runner=runner).stop("c1", timeout=7) == 0
    assert runner.argvs()[0] == ("podman", "stop", "--time", "7", "c1")


def test_podman_push_logs_in_through_stdin_to_a_private_auth_file() -> None:
    runner = FakeRunner()
    digest = "sha256:" + "b" * 64
    runner.on("podman", "push", stdout=f"Writing manifest\ndigest: {digest} size: 1234\n")
    got = engine(runner=runner).push(
        "svc:1", "123.dkr.ecr.eu-north-1.amazonaws.com/svc:1", "AWS", "tok3n"
    )
    assert got == digest
    login, push = runner.calls
    authfile = login.argv[login.argv.index("--authfile") + 1]
    assert list(login.argv) == [
        "podman", "login", "--authfile", authfile, "--username", "AWS", "--password-stdin",
        "123.dkr.ecr.eu-north-1.amazonaws.com",
    ]  # fmt: skip
    assert login.stdin == "tok3n"
    assert all("tok3n" not in " ".join(call.argv) for call in runner.calls)
    assert list(push.argv[:6]) == ["podman", "push", "--authfile", authfile, "--format", "v2s2"]
    assert push.argv[-2:] == ("svc:1", "docker://123.dkr.ecr.eu-north-1.amazonaws.com/svc:1")


def test_docker_push_uses_a_private_docker_config() -> None:
    runner = FakeRunner()
    runner.on("docker", "push", stdout="1: digest: sha256:" + "c" * 64 + " size: 42\n")
    got = engine("docker", runner).push("svc:1", "reg.example/svc:1", "AWS", "pw")
    assert got == "sha256:" + "c" * 64
    assert [call.argv[1] for call in runner.calls] == ["login", "tag", "push"]
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
    cases: list[tuple[image.EngineName, tuple[str, ...]]] = [
        ("podman", ("podman", "image", "exists", "r")),
        ("docker", ("docker", "image", "inspect", "r")),
        ("buildah", ("buildah", "inspect", "--type", "image", "r")),
    ]
    for name, expected in cases:
        runner = FakeRunner()
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
    podman = ContainerEngine("podman", "podman", {}, runner)
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
        "mediaType": image.DOCKER_V2_MANIFEST,
        "config": {
            "mediaType": image.DOCKER_V2_CONFIG,
            "size": len(config),
            "digest": f"sha256:{config_id}",
        },
        "layers": [],
    }
    runner = FakeRunner()
    runner.on("/usr/bin/buildah", "inspect", stdout=_stored(stored, config, config_id))
    podman = ContainerEngine(
        "podman", "podman", {"CONTAINERS_STORAGE_CONF": "s"}, runner, "/usr/bin/buildah"
    )
    media_type, body, digest = podman.manifest("svc:1")
    assert runner.argvs() == [("/usr/bin/buildah", "inspect", "--type", "image", "svc:1")]
    assert runner.calls[0].env == {"CONTAINERS_STORAGE_CONF": "s"}  # the same image store
    assert (media_type, json.loads(body)) == (image.DOCKER_V2_MANIFEST, stored)
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
    stored = {"mediaType": image.DOCKER_V2_MANIFEST, "config": {"digest": f"sha256:{config_id}"}}
    runner = FakeRunner()
    runner.on("buildah", "inspect", stdout=_stored({**stored, **change}, config, config_id))
    runner.on("podman", "save", returncode=1, stderr="Error: exported nothing")
    podman = ContainerEngine("podman", "podman", {}, runner, "buildah")
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
    name: image.EngineName, argv: tuple[str, ...]
) -> None:
    runner = FakeRunner()
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

    def download(argv: Sequence[str]) -> None:
        if "download" in argv:
            for name, data in files.items():
                (dest / name).write_bytes(data)

    runner.effects.append(download)

    dest.mkdir()
    (dest / "stale-0.1-py3-none-any.whl").write_bytes(b"old")
    first = image.prepare_wheels(dest, project_dir=project, runner=runner, arch="x86_64")
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
    assert "manylinux2014_x86_64" in pip

    runner.calls.clear()
    second = image.prepare_wheels(dest, project_dir=project, runner=runner)
    assert not second.downloaded
    assert [argv[:2] for argv in runner.argvs()] == [("uv", "export")]

    (project / "uv.lock").write_text("lock v2")  # a new lock: the Dockerfile's check would fail
    assert image.prepare_wheels(dest, project_dir=project, runner=runner).downloaded


def test_uv_missing_is_one_line(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("uv", returncode=127, stderr="uv: command not found")
    with pytest.raises(DeliveryError, match=r"^uv not found: run bin/bootstrap"):
        image.prepare_wheels(tmp_path, project_dir=tmp_path, runner=runner)


# --- local base -------------------------------------------------------------------------------


def test_local_base_present_is_just_returned() -> None:
    runner = FakeRunner()
    assert localbase.ensure_local_base(engine(runner=runner)) == localbase.LOCAL_BASE_REF
    assert runner.argvs() == [("podman", "image", "exists", localbase.LOCAL_BASE_REF)]


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
    podman = ContainerEngine("podman", "podman", {}, runner)
    ref = localbase.ensure_local_base(
        podman,
        work_dir=tmp_path,
        which=which_of("tar", "debootstrap"),
        is_root=True,
        mirror="http://mirror.example/debian",
    )
    assert ref == localbase.LOCAL_BASE_REF
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
    assert imported[-1] == localbase.LOCAL_BASE_REF
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


def test_build_image_tags_version_and_sha_and_passes_the_build_args(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    runner.on("podman", "image", "inspect", "--format", "{{.Size}}", stdout="1000\n")
    runner.on("podman", "image", "inspect", stdout="sha256:" + "e" * 64)
    podman = engine(runner=runner)
    prepared: list[Path] = []
    monkeypatch.setattr(image, "prepare_wheels", lambda dest, **_: prepared.append(dest))
    monkeypatch.setattr(image, "ensure_local_base", lambda _engine: "localhost/base:1")
    built = image.build_image(
        "svc", "1.2.3", "abc123", engine=podman, build_time="T", context=tmp_path
    )
    assert prepared == [tmp_path / "build" / "wheels"]
    build = next(argv for argv in runner.argvs() if argv[1] == "build")
    args = [build[i + 1] for i, arg in enumerate(build) if arg == "--build-arg"]
    assert args == [
        "APP_VERSION=1.2.3",
        "BASE_IMAGE=localhost/base:1",
        "BUILD_TIME=T",
        "GIT_SHA=abc123",
    ]
    assert built.tags == ("svc:1.2.3", "svc:abc123")
    assert built.base_image == "localhost/base:1"
    assert built.above_base_bytes == 0


def test_build_image_with_docker_uses_the_public_base_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
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
    assert built.base_image == image.DEFAULT_BASE_IMAGE
