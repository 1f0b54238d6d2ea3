"""Runtime-version selection for a rehearsed CodeBuild build: install's ``runtime-versions``.

One job: checking the runtimes and versions the buildspec asks for against those the build image
offers, and choosing the version each selects, as the buildspec reference
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, cited with the anchor
of each key) and the runtime versions page
(https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html) describe them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from delivery.rehearsal.build_log import BuildLog

_VARIABLE_REFERENCE = re.compile(r"^\$(?:\{(\w+)\}|(\w+))$")


def select_runtimes(
    runtime_versions: Mapping[str, str],
    offered: Mapping[str, Sequence[str]],
    environment: Mapping[str, str],
    log: BuildLog,
) -> str | None:
    """Check install's runtime-versions against the image's; the failure's reason, or None."""
    for runtime, requested in runtime_versions.items():
        version = _expand(requested, environment)
        if runtime not in offered:
            return (
                f"YAML_FILE_ERROR: Unknown runtime named '{runtime}'. This build image has "
                f"the following runtimes: {', '.join(sorted(offered))}"
            )
        chosen = _select_version(version, offered[runtime])
        if chosen is None:
            return (
                f"YAML_FILE_ERROR: Unknown runtime version named '{version}' of {runtime}. "
                f"This build image has the following versions: "
                f"{', '.join(offered[runtime])}"
            )
        log.line(f"Selecting '{runtime}' runtime version '{chosen}' based on manual selections...")
    return None


def _expand(requested: str, environment: Mapping[str, str]) -> str:
    # "You can specify the runtime using a number or an environment variable", e.g.
    # ruby: "$MY_RUBY_VAR" (#runtime-versions-in-build-spec).
    match = _VARIABLE_REFERENCE.match(requested)
    if match is None:
        return requested
    return environment.get(match.group(1) or match.group(2), "")


def _select_version(requested: str, offered: Sequence[str]) -> str | None:
    """The offered version ``requested`` selects, or None.

    "Specify a runtime using a specific version, a major version followed by .x to specify that
    CodeBuild uses that major version with its latest minor version, or latest to use the most
    recent major and minor version" (#runtime-versions-in-build-spec; the table of
    https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html: python: 3.12,
    python: 3.x, golang: 1.x, java: corretto21.x, nodejs: latest).
    """
    if requested in offered:
        return requested
    if requested == "latest":
        candidates = list(offered)
    elif requested.endswith(".x"):
        major = requested.removesuffix(".x")
        candidates = [v for v in offered if v == major or v.startswith(f"{major}.")]
    else:
        return None
    return max(candidates, key=_version_key) if candidates else None


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"[.\-]", version)
        if part
    )
