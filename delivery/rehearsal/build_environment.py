"""The environment variables of a rehearsed CodeBuild build, and the checks of their names.

One job: the build's environment. The image's variables, the CodeBuild variables only the caller
knows, those CodeBuild sets itself, and the buildspec's, project's and start-build's variables,
merged in CodeBuild's order of precedence; and the refusal of names CodeBuild refuses. The judges
are environment variables in build environments
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html,
"build-env-ref-env-vars") and the buildspec reference
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, cited with the anchor
of each key).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from delivery.errors import DeliveryError
from delivery.rehearsal.build_log import BuildLog
from delivery.rehearsal.buildspec import RESERVED_PREFIX

# The variables CodeBuild documents (build-env-ref-env-vars) that only the caller can know.
# CODEBUILD_SOURCE_VERSION_<id> and CODEBUILD_SOURCE_REPO_URL_<id> exist per secondary source.
CALLER_BUILTINS = frozenset(
    {
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "CODEBUILD_BATCH_BUILD_IDENTIFIER",
        "CODEBUILD_BUILD_ARN",
        "CODEBUILD_BUILD_IMAGE",
        "CODEBUILD_INITIATOR",
        "CODEBUILD_KMS_KEY_ID",
        "CODEBUILD_LOG_PATH",
        "CODEBUILD_PROJECT_ARN",
        "CODEBUILD_PUBLIC_BUILD_URL",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "CODEBUILD_SOURCE_REPO_URL",
        "CODEBUILD_SOURCE_VERSION",
        "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID",
        "CODEBUILD_WEBHOOK_BASE_REF",
        "CODEBUILD_WEBHOOK_EVENT",
        "CODEBUILD_WEBHOOK_HEAD_REF",
        "CODEBUILD_WEBHOOK_PREV_COMMIT",
        "CODEBUILD_WEBHOOK_TRIGGER",
    }
)
_PER_SOURCE_BUILTIN = re.compile(r"^CODEBUILD_(SOURCE_VERSION|SOURCE_REPO_URL)_[A-Za-z0-9_]+$")
SUCCEEDING = "CODEBUILD_BUILD_SUCCEEDING"
# A secondary source identifier: "alphanumeric characters and underscores" (ProjectSource
# sourceIdentifier, API reference); CODEBUILD_SRC_DIR_<id> must be a variable name.
_SOURCE_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,127}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_secondary(name: str, directory: Path) -> None:
    """Refuse a secondary source CODEBUILD_SRC_DIR_<name> cannot name; DeliveryError."""
    if not _SOURCE_IDENTIFIER.match(name):
        raise DeliveryError(
            f"secondary source '{name}' cannot name CODEBUILD_SRC_DIR_{name}: use letters, "
            "digits and _"
        )
    if not directory.is_dir():
        raise DeliveryError(f"secondary source {name} ({directory}) is not a directory")


def check_base_environment(environment: Mapping[str, str]) -> None:
    """Refuse an image environment without PATH or with CODEBUILD_ variables; DeliveryError."""
    if "PATH" not in environment:
        raise DeliveryError("the image's environment has no PATH: give base_environment a PATH")
    reserved = sorted(name for name in environment if name.startswith(RESERVED_PREFIX))
    if reserved:
        raise DeliveryError(
            f"the image's environment sets {', '.join(reserved)}: CodeBuild sets CODEBUILD_ "
            "variables itself; pass them as builtins"
        )


def check_builtins(builtins: Mapping[str, str]) -> None:
    """Refuse a builtin that is not a CodeBuild variable only the caller knows; DeliveryError."""
    for name in builtins:
        if name not in CALLER_BUILTINS and not _PER_SOURCE_BUILTIN.match(name):
            raise DeliveryError(
                f"builtin {name} is not a CodeBuild variable the caller can give "
                "(build-env-ref-env-vars): remove it, or pass it as a project variable"
            )


def check_variables(where: str, variables: Mapping[str, str]) -> None:
    """Refuse ``where``'s (project, override) variable names CodeBuild refuses; DeliveryError."""
    # "Do not set any environment variable with a name that starts with CODEBUILD_"
    # (#build-spec.env.variables); the API refuses it for project and start-build variables too.
    for name in variables:
        if not _VARIABLE_NAME.match(name):
            raise DeliveryError(f"{where} variable '{name}' is not a shell variable name")
        if name.startswith(RESERVED_PREFIX):
            raise DeliveryError(
                f"{where} variable {name} uses the reserved prefix {RESERVED_PREFIX}: rename it"
            )


def merge(
    *,
    image: Mapping[str, str],
    builtins: Mapping[str, str],
    codebuild: Mapping[str, str],
    buildspec: Mapping[str, str],
    project: Mapping[str, str],
    override: Mapping[str, str],
) -> dict[str, str]:
    """The build's environment, lowest precedence first.

    "Any environment variables you set replace existing environment variables" of the image, and
    for a name defined in several places "The value in the start build operation call takes
    highest precedence", then "the build project definition", and "The value in the buildspec
    declaration takes lowest precedence" (#build-spec.env.variables). CodePipeline's action
    EnvironmentVariables are start-build overrides.
    """
    environment = dict(image)
    environment.update(builtins)
    environment.update(codebuild)
    environment.update(buildspec)
    environment.update(project)
    environment.update(override)
    return environment


def codebuild_variables(
    build_id: str, primary: Path, secondaries: Mapping[str, Path], build_number: int | None
) -> dict[str, str]:
    """The variables CodeBuild sets that the rehearsal knows (build-env-ref-env-vars)."""
    variables = {
        # "The directory path that CodeBuild uses for the build"; per secondary source
        # CODEBUILD_SRC_DIR_<sourceIdentifier>, the identifier spelled as given.
        "CODEBUILD_SRC_DIR": str(primary.resolve()),
        # "The CodeBuild ID of the build (for example, codebuild-demo-project:b1e6661e-...)".
        "CODEBUILD_BUILD_ID": build_id,
        # "Set to 0 if the build is failing, or 1 if the build is succeeding."
        SUCCEEDING: "1",
        # "The start time of the build specified as a Unix timestamp in milliseconds."
        "CODEBUILD_START_TIME": str(int(time.time() * 1000)),
    }
    for name, directory in secondaries.items():
        variables[f"CODEBUILD_SRC_DIR_{name}"] = str(directory.resolve())
    if build_number is not None:
        variables["CODEBUILD_BUILD_NUMBER"] = str(build_number)
    return variables


def exported(names: Sequence[str], environment: Mapping[str, str], log: BuildLog) -> dict[str, str]:
    """env/exported-variables, read when post_build ends.

    "It can be updated between the start of the install phase and the end of the post_build
    phase. After the post_build phase ends, the value of exported variables cannot change"
    (#build-spec.env.exported-variables). Silent on a variable that is not set: it is left
    out (and logged) rather than exported empty, the stricter reading.
    """
    values: dict[str, str] = {}
    for name in names:
        if name in environment:
            values[name] = environment[name]
        else:
            log.line(f"Exported variable {name} is not set: it is not exported")
    return values
