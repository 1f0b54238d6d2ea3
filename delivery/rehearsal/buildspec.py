"""A CodeBuild buildspec (version 0.2), read and validated: one job, no execution.

The judge is AWS's buildspec reference,
https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html (cited below as
"the reference", with the anchor of each key). Every key it documents is either modelled here or
refused with one line saying the rehearsal cannot honour it: a key silently ignored would make the
rehearsal pass a buildspec that behaves differently under CodeBuild. Where the reference is silent
the stricter reading is taken, and the comment says so.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

import yaml

from delivery.errors import DeliveryError

REFERENCE = "https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html"

# The four phases a buildspec may declare, in the order CodeBuild runs them (#build-spec.phases).
PHASE_NAMES = ("install", "pre_build", "build", "post_build")

# env/shell (#build-spec.shell): "For Linux operating systems, supported shell tags are: bash,
# /bin/sh". None in the model means the platform default, sh.
LINUX_SHELLS = ("bash", "/bin/sh")

# reports/<group>/file-format (#build-spec.reports.file-format): not case sensitive, JUNITXML
# when absent.
REPORT_FORMATS = (
    "CUCUMBERJSON",
    "JUNITXML",
    "NUNITXML",
    "NUNIT3XML",
    "TESTNGXML",
    "VISUALSTUDIOTRX",
    "CLOVERXML",
    "COBERTURAXML",
    "JACOCOXML",
    "SIMPLECOV",
)
DEFAULT_REPORT_FORMAT = "JUNITXML"
# reports/<group> (#build-spec.reports.report-name-or-arn): "A project can have a maximum of five
# report groups".
MAX_REPORT_GROUPS = 5

# Keys the reference documents that this rehearsal cannot honour, and why. Refused, never ignored.
_UNSUPPORTED_TOP = {
    "run-as": "it runs every command as the current user",
    "proxy": "it runs no explicit proxy server",
    "batch": "it runs single builds only, not batch builds",
}
_UNSUPPORTED_ENV = {
    "parameter-store": "it cannot read Systems Manager Parameter Store",
    "secrets-manager": "it cannot read Secrets Manager",
    "git-credential-helper": "it has no CodeBuild Git credential helper",
}
_UNSUPPORTED_ARTIFACTS = {
    "secondary-artifacts": "it produces only the primary artifact",
    "exclude-paths": "its exclusion semantics are not modelled",
    "enable-symlinks": "it produces no ZIP artifact",
    "s3-prefix": "it uploads nothing to S3",
}
_UNSUPPORTED_PHASE = {"run-as": "it runs every command as the current user"}

_TOP_KEYS = {"version", "env", "phases", "reports", "artifacts", "cache", *_UNSUPPORTED_TOP}
_ENV_KEYS = {"shell", "variables", "exported-variables", *_UNSUPPORTED_ENV}
_PHASE_KEYS = {"commands", "finally", "on-failure", "runtime-versions", *_UNSUPPORTED_PHASE}
_ARTIFACT_KEYS = {"files", "name", "discard-paths", "base-directory", *_UNSUPPORTED_ARTIFACTS}
_REPORT_KEYS = {"files", "base-directory", "discard-paths", "file-format"}
_CACHE_KEYS = {"paths"}

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# env/variables (#build-spec.env.variables): "Do not set any environment variable with a name that
# starts with CODEBUILD_. This prefix is reserved for internal use."
RESERVED_PREFIX = "CODEBUILD_"
# env/exported-variables (#build-spec.env.exported-variables): "The following cannot be exported:
# ... Environment variables that start with AWS_."
UNEXPORTABLE_PREFIX = "AWS_"


class OnFailure(StrEnum):
    """phases/*/on-failure (#build-spec.phases.on-failure): what a failed phase does next."""

    ABORT = "ABORT"  # "Abort the build."
    CONTINUE = "CONTINUE"  # "Continue to the next phase."


@dataclass(frozen=True)
class Phase:
    """One declared phase: its commands, its ``finally`` block, ``on-failure``, runtimes."""

    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    # None: the phase follows the documented phase transitions (see codebuild.py).
    on_failure: OnFailure | None = None
    # install only (#runtime-versions-in-build-spec): runtime -> requested version, as text.
    runtime_versions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Artifacts:
    """artifacts (#build-spec.artifacts): the files of the primary output artifact."""

    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Report:
    """reports/<group> (#build-spec.reports): where a report group's raw files are."""

    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    file_format: str = DEFAULT_REPORT_FORMAT


@dataclass(frozen=True)
class Buildspec:
    """A validated version 0.2 buildspec. ``source`` names the file in messages."""

    source: str
    version: str
    # env/shell; None is the platform default, sh.
    shell: str | None
    variables: Mapping[str, str]
    exported_variables: tuple[str, ...]
    # The declared phases only, always in CodeBuild's order (install, pre_build, build,
    # post_build) whatever the order in the file.
    phases: tuple[Phase, ...]
    artifacts: Artifacts | None
    reports: Mapping[str, Report]
    cache_paths: tuple[str, ...]

    def phase(self, name: str) -> Phase | None:
        """The declared phase ``name`` (``install``, ``pre_build``...), or None."""
        return next((phase for phase in self.phases if phase.name == name), None)


def load(path: Path) -> Buildspec:
    """Read and validate the buildspec at ``path``; DeliveryError (one line) if it is not valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DeliveryError(
            f"{path}: cannot read the buildspec ({error.strerror}): check the path"
        ) from error
    return parse(text, path.name)


def parse(text: str, source_name: str) -> Buildspec:
    """Validate buildspec ``text``; ``source_name`` names it in the one-line DeliveryError."""
    document = _yaml(text, source_name)
    return _Reader(source_name).buildspec(document)


# --- YAML ----------------------------------------------------------------------------------------


class _DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: object, mark: yaml.Mark) -> None:
        super().__init__(f"key '{key}' is given twice (the second at line {mark.line + 1})")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping.

    The reference is silent on duplicate keys and PyYAML keeps the last one silently: refusing is
    the stricter reading (a second ``commands:`` would otherwise drop the first list unseen).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<:` merges are how YAML spells reuse, not a duplicate
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise _DuplicateKeyError(key, key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKeyError as error:
        raise DeliveryError(f"{source}: {error}: keep one of them") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise DeliveryError(
            f"{source}: not valid YAML{where} ({problem}): fix the YAML (quote commands that "
            "contain ': ')"
        ) from error


# --- validation ----------------------------------------------------------------------------------


class _Reader:
    """Walks the parsed YAML; every refusal names ``source``, the key and the fix."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str, fix: str) -> DeliveryError:
        return DeliveryError(f"{self.source}: {key} {problem}: {fix}")

    def unsupported(self, key: str, why: str) -> DeliveryError:
        return self.fail(
            key,
            f"is not supported by the pipeline rehearsal ({why})",
            "remove it, or run this build on CodeBuild only",
        )

    def buildspec(self, document: Any) -> Buildspec:
        if document is None:
            raise DeliveryError(f"{self.source}: the buildspec is empty: start it with version 0.2")
        top = self.mapping(document, "the buildspec", _TOP_KEYS, _UNSUPPORTED_TOP, prefix="")
        version = self.version(top)
        env = self.mapping(top.get("env", {}), "env", _ENV_KEYS, _UNSUPPORTED_ENV)
        return Buildspec(
            source=self.source,
            version=version,
            shell=self.shell(env.get("shell")),
            variables=self.variables(env.get("variables", {})),
            exported_variables=(
                self.exported(env["exported-variables"]) if "exported-variables" in env else ()
            ),
            phases=self.phases(top),
            artifacts=self.artifacts(top["artifacts"]) if "artifacts" in top else None,
            reports=self.reports(top.get("reports", {})),
            cache_paths=self.cache(top["cache"]) if "cache" in top else (),
        )

    def mapping(
        self,
        value: Any,
        key: str,
        allowed: set[str],
        unsupported: Mapping[str, str],
        prefix: str | None = None,
    ) -> dict[str, Any]:
        """``value`` as a mapping of known keys; unknown and unsupported keys refused."""
        if not isinstance(value, dict):
            raise self.fail(key, f"is {_kind(value)}, not a mapping", "indent its keys under it")
        prefix = f"{key}." if prefix is None else prefix
        for name in value:
            if not isinstance(name, str) or name not in allowed:
                raise self.fail(
                    f"{prefix}{name}",
                    "is not a buildspec key",
                    f"use one of {', '.join(sorted(allowed - set(unsupported)))} ({REFERENCE})",
                )
            if name in unsupported:
                raise self.unsupported(f"{prefix}{name}", unsupported[name])
        return value

    def version(self, top: Mapping[str, Any]) -> str:
        # version (#build-spec.version) is required. 0.1 runs each command "in a separate
        # instance of the default shell" (#build-spec.phases, note): nothing carries over from one
        # command to the next, which the rehearsal does not model.
        if "version" not in top:
            raise self.fail("version", "is missing", "start the buildspec with version: 0.2")
        version = str(top["version"]).strip()
        if version == "0.1":
            raise self.fail(
                "version",
                "0.1 runs every command in its own shell (no cd or export carries over) and the "
                "rehearsal runs only 0.2",
                "set version: 0.2",
            )
        if version != "0.2":
            raise self.fail("version", f"'{version}' is not a buildspec version", "set 0.2")
        return version

    def shell(self, value: Any) -> str | None:
        if value is None:
            return None
        if value not in LINUX_SHELLS:
            raise self.fail(
                "env.shell",
                f"'{value}' is not one of {', '.join(LINUX_SHELLS)} (the Linux shells CodeBuild "
                "supports)",
                "use bash, /bin/sh, or remove it for the default sh",
            )
        return str(value)

    def variables(self, value: Any) -> Mapping[str, str]:
        if not isinstance(value, dict):
            raise self.fail("env.variables", f"is {_kind(value)}", "give NAME: value pairs")
        result: dict[str, str] = {}
        for name, raw in value.items():
            key = f"env.variables.{name}"
            self.variable_name(name, key)
            if isinstance(name, str) and name.startswith(RESERVED_PREFIX):
                raise self.fail(
                    key, f"uses the reserved prefix {RESERVED_PREFIX}", "rename the variable"
                )
            result[str(name)] = self.scalar(raw, key)
        return MappingProxyType(result)

    def variable_name(self, name: Any, key: str) -> None:
        if not isinstance(name, str) or not _VARIABLE_NAME.match(name):
            raise self.fail(key, "is not a shell variable name", "use letters, digits and _")

    def scalar(self, raw: Any, key: str) -> str:
        # "a mapping of key/value scalars" (#build-spec.env.variables). Numbers become their text,
        # as YAML printed them (3.10 is the float 3.1: quote versions). A YAML boolean (yes, on,
        # true) or null is refused: the reference is silent on how it is spelled as text, and the
        # stricter reading is to ask for quotes.
        if isinstance(raw, bool) or raw is None:
            raise self.fail(key, f"is {_kind(raw)}, not text", "quote the value")
        if isinstance(raw, str | int | float):
            return str(raw)
        raise self.fail(key, f"is {_kind(raw)}, not a scalar", "give one quoted value")

    def exported(self, value: Any) -> tuple[str, ...]:
        names = self.strings(value, "env.exported-variables")
        for index, name in enumerate(names):
            key = f"env.exported-variables[{index}]"
            self.variable_name(name, key)
            if name.startswith(UNEXPORTABLE_PREFIX):
                raise self.fail(
                    key,
                    f"'{name}' cannot be exported (CodeBuild refuses variables starting with "
                    f"{UNEXPORTABLE_PREFIX})",
                    "export a copy under another name",
                )
        if len(set(names)) != len(names):
            # Silent in the reference; a repeated name is a mistake worth one line.
            raise self.fail("env.exported-variables", "names a variable twice", "list it once")
        return names

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        """A non-empty list of non-empty strings (commands, paths, names)."""
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"is {_kind(value)}", "give a non-empty YAML list")
        for index, item in enumerate(value):
            if isinstance(item, dict):
                # CodeBuild's own YAML_FILE_ERROR for this: "Expected Commands[4] to be of string
                # type: found subkeys instead".
                raise self.fail(
                    f"{key}[{index}]",
                    "is a mapping, not a string (an unquoted ': ' makes YAML read a key)",
                    "quote the whole item",
                )
            if item is None or (isinstance(item, str) and not item.strip()):
                raise self.fail(f"{key}[{index}]", "is empty", "give non-empty text")
            if not isinstance(item, str):
                # `- true` is a YAML boolean, not the command true.
                raise self.fail(f"{key}[{index}]", f"is {_kind(item)}, not text", "quote it")
        return tuple(value)

    def phases(self, top: Mapping[str, Any]) -> tuple[Phase, ...]:
        # phases (#build-spec.phases): "Required sequence".
        if "phases" not in top:
            raise self.fail("phases", "is missing", "declare at least one phase")
        declared = top["phases"]
        if not isinstance(declared, dict) or not declared:
            raise self.fail("phases", f"is {_kind(declared)}", "declare at least one phase")
        for name in declared:
            if name not in PHASE_NAMES:
                raise self.fail(
                    f"phases.{name}", "is not a phase", f"use one of {', '.join(PHASE_NAMES)}"
                )
        return tuple(self.phase(name, declared[name]) for name in PHASE_NAMES if name in declared)

    def phase(self, name: str, value: Any) -> Phase:
        key = f"phases.{name}"
        body = self.mapping(value, key, _PHASE_KEYS, _UNSUPPORTED_PHASE)
        if "runtime-versions" in body and name != "install":
            raise self.fail(f"{key}.runtime-versions", "is install only", "move it to install")
        # phases/install/commands is optional; pre_build, build and post_build "commands" are
        # "Required ... if <phase> is specified" (#build-spec.phases.pre_build and following).
        if "commands" not in body and name != "install":
            raise self.fail(f"{key}.commands", "is missing", "list the phase's commands")
        return Phase(
            name=name,
            commands=(
                self.strings(body["commands"], f"{key}.commands") if "commands" in body else ()
            ),
            finally_commands=(
                self.strings(body["finally"], f"{key}.finally") if "finally" in body else ()
            ),
            on_failure=self.on_failure(body.get("on-failure"), f"{key}.on-failure"),
            runtime_versions=self.runtimes(body.get("runtime-versions"), key),
        )

    def on_failure(self, value: Any, key: str) -> OnFailure | None:
        if value is None:
            return None
        text = str(value)
        if text.upper().startswith("RETRY"):
            # Newer revisions of the reference add RETRY, RETRY-<count>, RETRY-<regex>...: each
            # reruns the build, which the rehearsal does not model.
            raise self.unsupported(key, f"'{text}' retries the build")
        if text not in {member.value for member in OnFailure}:
            raise self.fail(
                key,
                f"'{text}' is not one of {', '.join(OnFailure)}",
                "use one of them, or remove it for the default phase transitions",
            )
        return OnFailure(text)

    def runtimes(self, value: Any, phase_key: str) -> Mapping[str, str]:
        if value is None:
            return MappingProxyType({})
        key = f"{phase_key}.runtime-versions"
        # "If specified, at least one runtime must be included" (#runtime-versions-in-build-spec).
        if not isinstance(value, dict) or not value:
            raise self.fail(key, f"is {_kind(value)}", "give at least one runtime: version")
        result: dict[str, str] = {}
        for runtime, version in value.items():
            if not isinstance(runtime, str):
                raise self.fail(f"{key}.{runtime}", "is not a runtime name", "use e.g. python")
            result[runtime] = self.scalar(version, f"{key}.{runtime}")
        return MappingProxyType(result)

    def artifacts(self, value: Any) -> Artifacts:
        body = self.mapping(value, "artifacts", _ARTIFACT_KEYS, _UNSUPPORTED_ARTIFACTS)
        # artifacts/files (#build-spec.artifacts.files): "Required sequence".
        if "files" not in body:
            raise self.fail("artifacts.files", "is missing", "list the artifact's files")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise self.fail("artifacts.name", f"is {_kind(name)}", "quote the name")
        return Artifacts(
            files=self.paths(body["files"], "artifacts.files"),
            base_directory=self.base_directory(body.get("base-directory"), "artifacts"),
            discard_paths=self.yes_no(body.get("discard-paths"), "artifacts.discard-paths"),
            name=name,
        )

    def paths(self, value: Any, key: str) -> tuple[str, ...]:
        # Artifact and report locations are "relative to the original build location or, if set,
        # the base directory" (#build-spec.artifacts.files). Silent on absolute paths and '..':
        # refused, the stricter reading (they would reach outside the source directory).
        paths = self.strings(value, key)
        for index, path in enumerate(paths):
            self.relative(path, f"{key}[{index}]")
        return paths

    def relative(self, path: str, key: str) -> None:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts:
            raise self.fail(
                key, f"'{path}' leaves the source directory", "give a path relative to it"
            )

    def base_directory(self, value: Any, section: str) -> str | None:
        if value is None:
            return None
        key = f"{section}.base-directory"
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"is {_kind(value)}", "give one relative directory")
        self.relative(value, key)
        return value

    def yes_no(self, value: Any, key: str) -> bool:
        # discard-paths is "no | yes" in the syntax; YAML 1.1 reads those as booleans.
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"yes", "no"}:
            return value.lower() == "yes"
        raise self.fail(key, f"'{value}' is not yes or no", "use yes or no")

    def reports(self, value: Any) -> Mapping[str, Report]:
        if not isinstance(value, dict):
            raise self.fail("reports", f"is {_kind(value)}", "map report group names to files")
        if len(value) > MAX_REPORT_GROUPS:
            raise self.fail(
                "reports",
                f"declares {len(value)} report groups; a project can have at most "
                f"{MAX_REPORT_GROUPS}",
                "merge report groups",
            )
        return MappingProxyType(
            {str(group): self.report(str(group), body) for group, body in value.items()}
        )

    def report(self, group: str, value: Any) -> Report:
        key = f"reports.{group}"
        body = self.mapping(value, key, _REPORT_KEYS, {})
        if "files" not in body:
            # reports/<group>/files (#build-spec.reports.files): "Required sequence".
            raise self.fail(f"{key}.files", "is missing", "list the report's files")
        file_format = str(body.get("file-format", DEFAULT_REPORT_FORMAT)).upper()
        if file_format not in REPORT_FORMATS:
            raise self.fail(
                f"{key}.file-format",
                f"'{body['file-format']}' is not one of {', '.join(REPORT_FORMATS)}",
                "use one of them",
            )
        return Report(
            files=self.paths(body["files"], f"{key}.files"),
            base_directory=self.base_directory(body.get("base-directory"), key),
            discard_paths=self.yes_no(body.get("discard-paths"), f"{key}.discard-paths"),
            file_format=file_format,
        )

    def cache(self, value: Any) -> tuple[str, ...]:
        # cache/paths (#build-spec.cache.paths) is "Required" when cache is given. Later revisions
        # add cache keys (key, fallback-keys, action): refused as unknown, never ignored.
        body = self.mapping(value, "cache", _CACHE_KEYS, {})
        if "paths" not in body:
            raise self.fail("cache.paths", "is missing", "list the cached paths")
        return self.strings(body["paths"], "cache.paths")


def _kind(value: Any) -> str:
    """How a wrong value reads in a message: 'empty', 'a list', "'yes' (a boolean)"..."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"'{str(value).lower()}' (a YAML boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, str):
        return "empty" if not value.strip() else f"the text '{value}'"
    return f"'{value}' (a {type(value).__name__})"
