"""The CodeBuild image a rehearsed action runs in: the tools it has, and nothing else.

A build on ``aws/codebuild/standard:7.0`` can call only what that image installs (plus what its
install phase adds). The rehearsal gives each action a PATH holding exactly those tools, found on
this machine, so a command that needs something the image lacks (graphviz, wrk, podman...) fails
here as it would there. The image's Python (pyenv's 3.11, with pip) is a fresh installation per
action, built on this machine's interpreter: what a buildspec pip-installs is gone with it.

The tool list is AWS's: the image's Dockerfile and runtimes.yml in aws/aws-codebuild-docker-images
(``ubuntu/standard/7.0``, release 26.03.25, commit 1590e48787084015430500926ea922130dbe9367).

Stand-ins, named wherever they are used:

- CodeBuild's Docker engine (privileged mode): podman, kept off the PATH and handed to the
  project's own code through ``CONTAINER_ENGINE`` (a buildspec that calls ``docker`` itself finds
  only a client without an engine here, and one that calls ``podman`` finds nothing, as there);
- the image's ``aws`` (AWS CLI v2) is this machine's AWS CLI, where there is one.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from delivery.errors import DeliveryError

STANDARD_7 = "aws/codebuild/standard:7.0"
# Executables a buildspec can call on standard:7.0 (the Dockerfile's apt packages and tools).
# Language runtimes other than Python are left out: no project command uses them.
STANDARD_7_TOOLS: tuple[str, ...] = (
    # shells and core utilities
    "bash",
    "sh",
    "dash",
    "env",
    "ls",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "rmdir",
    "ln",
    "chmod",
    "chown",
    "cat",
    "echo",
    "printf",
    "test",
    "[",
    "true",
    "false",
    "date",
    "sleep",
    "tee",
    "head",
    "tail",
    "sort",
    "uniq",
    "wc",
    "cut",
    "tr",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "touch",
    "mktemp",
    "stat",
    "du",
    "df",
    "nproc",
    "uname",
    "hostname",
    "expr",
    "seq",
    "yes",
    "timeout",
    "sha256sum",
    "sha1sum",
    "sha512sum",
    "md5sum",
    "base64",
    "find",
    "xargs",
    "grep",
    "egrep",
    "sed",
    "awk",
    "diff",
    "cmp",
    "patch",
    "file",
    "less",
    "time",
    "rsync",
    "sudo",
    "which",
    "id",
    "whoami",
    "ps",
    "kill",
    "pgrep",
    "pkill",
    "top",
    "free",
    "getent",
    "locale",
    # archives and compression
    "tar",
    "gzip",
    "gunzip",
    "zcat",
    "bzip2",
    "xz",
    "zip",
    "unzip",
    # network
    "curl",
    "wget",
    "ssh",
    "scp",
    "ssh-keyscan",
    "openssl",
    "ip",
    "iptables",
    "nc",
    "dig",
    # build tools
    "gcc",
    "g++",
    "cc",
    "make",
    "ld",
    "as",
    "ar",
    "pkg-config",
    # version control and text
    "git",
    "jq",
    "sqlite3",
    "envsubst",
    "gpg",
    "shellcheck",
    # AWS and containers (the engine itself: see the module's stand-ins)
    "aws",
    "docker",
)
# runtime-versions the image offers (runtimes.yml), and the one it selects by default.
STANDARD_7_RUNTIMES: Mapping[str, tuple[str, ...]] = {
    "python": ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14"),
}
DEFAULT_PYTHON = "3.11"
# What the image sets for every build (Dockerfile ENV; CodeBuild sets HOME to /root).
IMAGE_ENVIRONMENT: Mapping[str, str] = {"HOME": "/root", "LC_CTYPE": "C.UTF-8"}
# The stand-in engine's own PATH: its helpers (runc, conmon, iptables) are not the build's tools.
ENGINE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Which = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Image:
    """One CodeBuild image as the rehearsal stands it up."""

    name: str
    tools: tuple[str, ...]
    runtimes: Mapping[str, tuple[str, ...]]


IMAGES: Mapping[str, Image] = {
    STANDARD_7: Image(STANDARD_7, STANDARD_7_TOOLS, STANDARD_7_RUNTIMES),
}


def image(name: str) -> Image:
    """The image ``name``; one line for an image the rehearsal cannot stand in for."""
    found = IMAGES.get(name)
    if found is None:
        raise DeliveryError(
            f"the rehearsal stands in for {', '.join(IMAGES)} only, not {name}: use one of them "
            "in stacks/pipeline's settings (build_image) or add the image's tools here"
        )
    return found


@dataclass(frozen=True)
class Toolbox:
    """One action's tools: its PATH, its Python, and what the image has that this machine lacks."""

    path: str
    python: Mapping[str, str]  # the variables of the image's Python (see ``_python``)
    missing: tuple[str, ...]  # image tools this machine does not have (a command needing one fails)

    def environment(self) -> dict[str, str]:
        """The image's environment for the build: its PATH and variables."""
        return {**IMAGE_ENVIRONMENT, **self.python, "PATH": self.path}


def _host_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def check_runtime(spec: Image, runtimes: Mapping[str, str]) -> None:
    """Every ``runtime-versions`` entry is offered by the image and can run on this machine."""
    for runtime, version in runtimes.items():
        offered = spec.runtimes.get(runtime)
        if offered is None:
            raise DeliveryError(
                f"runtime-versions: {runtime} is not a runtime the rehearsal provides "
                f"(it provides {', '.join(spec.runtimes)})"
            )
        if version not in offered:
            raise DeliveryError(
                f"runtime-versions: {runtime} {version} is not offered by {spec.name} (it offers "
                f"{', '.join(offered)})"
            )
        if runtime == "python" and version != _host_python_version():
            raise DeliveryError(
                f"runtime-versions: python {version}: this machine runs the rehearsal with "
                f"Python {_host_python_version()} only"
            )


def _link_tools(folder: Path, tools: Sequence[str], which: Which) -> tuple[str, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    missing = []
    for tool in tools:
        found = which(tool)
        if found is None:
            missing.append(tool)
            continue
        target = folder / tool
        if not target.exists():
            target.symlink_to(found)
    return tuple(missing)


def _host_path() -> str:
    """This machine's system PATH, without any virtualenv or version manager of this process."""
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _system_which(tool: str) -> str | None:
    found = shutil.which(tool, path=_host_path())
    if found is None and tool == "aws":
        found = shutil.which(tool)  # a user-level AWS CLI (pyenv, pipx) stands in for v2
    return found


def _base_stdlib() -> Path:
    """The standard library of this machine's Python (a virtualenv shares its base's)."""
    return Path(sysconfig.get_paths()["stdlib"])


def _base_executable() -> Path:
    """This machine's own Python executable (a virtualenv's base), symlinks followed."""
    return Path(getattr(sys, "_base_executable", "") or sys.executable).resolve()


def _python(folder: Path) -> dict[str, str]:
    """A fresh Python installation under ``folder``: the image's Python for one action.

    This machine's interpreter and standard library (linked, not copied), an empty
    site-packages holding only a copy of pip: a system installation, as the image's pyenv
    Python is (uv will not build a project environment from a virtualenv's interpreter), in
    which whatever a buildspec pip-installs lands, and is gone with the action. Nothing of this
    machine's own site-packages is visible.
    """
    version = _host_python_version()
    stdlib = _base_stdlib()
    lib = folder / "lib" / f"python{version}"
    lib.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name != "site-packages":
            (lib / entry.name).symlink_to(entry)
    site = lib / "site-packages"
    site.mkdir()
    host_site = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["purelib"])
    pip = [p for p in host_site.iterdir() if p.name == "pip" or p.name.startswith("pip-")]
    if not any(p.name == "pip" for p in pip):
        raise DeliveryError(f"this machine's Python has no pip ({host_site}): install it")
    for entry in pip:
        shutil.copytree(entry, site / entry.name, symlinks=True)
    binaries = folder / "bin"
    binaries.mkdir()
    # A copy: Python finds its installation from where its executable is.
    shutil.copy2(_base_executable(), binaries / f"python{version}")
    for name in ("python", "python3"):
        (binaries / name).symlink_to(f"python{version}")
    for name in ("pip", "pip3", f"pip{version}"):
        wrapper = binaries / name
        wrapper.write_text(f'#!/bin/sh\nexec "{binaries}/python{version}" -m pip "$@"\n')
        wrapper.chmod(0o755)
    return {"PATH": str(binaries)}


def prepare(spec: Image, folder: Path, which: Which = _system_which) -> Toolbox:
    """The toolbox of one action under ``folder``: linked tools, then a fresh Python."""
    missing = _link_tools(folder / "bin", spec.tools, which)
    python = _python(folder / "python")
    return Toolbox(
        path=os.pathsep.join([python.pop("PATH"), str(folder / "bin")]),
        python=python,
        missing=missing,
    )


def engine_stand_in(folder: Path, engine_environment: Mapping[str, str]) -> Path:
    """podman (and buildah beside it) standing in for CodeBuild's Docker engine; podman's path.

    Each is a wrapper with the engine's own PATH and the build host's image store (the project's
    engine configuration): CodeBuild's LOCAL_DOCKER_LAYER_CACHE keeps layers on the build host
    between builds the same way.
    """
    folder.mkdir(parents=True, exist_ok=True)
    settings = "".join(f"export {k}='{v}'\n" for k, v in sorted(engine_environment.items()))
    for tool in ("podman", "buildah"):
        real = shutil.which(tool, path=ENGINE_PATH)
        if real is None:
            raise DeliveryError(
                f"{tool} is not installed: the rehearsal's stand-in for CodeBuild's Docker engine "
                "needs it (bin/bootstrap installs it)"
            )
        wrapper = folder / tool
        wrapper.write_text(
            "#!/bin/sh\n"
            "# The pipeline rehearsal's stand-in for CodeBuild's Docker engine.\n"
            f"export PATH='{ENGINE_PATH}'\n{settings}exec '{real}' \"$@\"\n"
        )
        wrapper.chmod(0o755)
    return folder / "podman"
