"""The files of a rehearsed CodeBuild build's artifact and report groups, found by glob.

One job: UPLOAD_ARTIFACTS's file handling. The buildspec's ``artifacts`` and ``reports`` name
files by pattern under a base directory; this module finds them in the build's source directory,
copies the artifact's into the output directory and lists each report group's, as the buildspec
reference describes them (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html,
cited with the anchor of each key) and the test reports guide words their status
(https://docs.aws.amazon.com/codebuild/latest/userguide/test-report.html).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from delivery.errors import DeliveryError
from delivery.rehearsal.build_log import BuildLog
from delivery.rehearsal.buildspec import Artifacts, Report


@dataclass(frozen=True)
class ReportResult:
    """A report group's raw files found after the build.

    ``incomplete`` is the report status INCOMPLETE: "the path to the test cases under the report
    group in the buildspec file might be incorrect", or the build did not complete
    (https://docs.aws.amazon.com/codebuild/latest/userguide/test-report.html).
    """

    group: str
    file_format: str
    files: tuple[Path, ...]
    incomplete: bool


def check_output_dir(output_dir: Path) -> None:
    """Refuse an artifact directory that exists and is not empty; DeliveryError."""
    # A stale file there would pass for an artifact the build did not produce.
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise DeliveryError(f"artifact directory {output_dir} is not empty: give a fresh one")


def collect_report(root: Path, group: str, report: Report, log: BuildLog) -> ReportResult:
    """A report group's files. Missing files make the report INCOMPLETE, never the build fail.

    test-report.html: INCOMPLETE when "the path to the test cases under the report group in
    the buildspec file might be incorrect"; it says nothing of failing the build. A pattern
    matching nothing makes the whole report INCOMPLETE (silent there: the stricter reading).
    """
    log.line(f"Preparing to copy {report.file_format} report files of {group}")
    found = _expand(root, report.files, report.base_directory, log)
    if isinstance(found, str):
        log.line(f"Report group {group}: {found}: the report is INCOMPLETE")
        return ReportResult(group, report.file_format, (), incomplete=True)
    files, missing = found
    if missing:
        log.line(f"Report group {group}: the report is INCOMPLETE")
    return ReportResult(
        group, report.file_format, tuple(path for path, _ in files), incomplete=bool(missing)
    )


def unreported(reports: Mapping[str, Report]) -> tuple[ReportResult, ...]:
    """Every report group INCOMPLETE and empty: UPLOAD_ARTIFACTS never ran."""
    # "The build was not completed" makes a report INCOMPLETE.
    return tuple(
        ReportResult(group, report.file_format, (), incomplete=True)
        for group, report in reports.items()
    )


def collect_artifacts(root: Path, artifacts: Artifacts, output: Path, log: BuildLog) -> str | None:
    """Copy the artifact's files into ``output``; CodeBuild's failure reason, or None.

    files, base-directory and discard-paths as #build-spec.artifacts.files,
    #build-spec.artifacts.base-directory and #build-spec.artifacts.discard-paths describe
    them. Nothing found fails the phase as CodeBuild's logs word it: "CLIENT_ERROR: no
    matching artifact paths found" ("no matching base directory path found for <dir>" for
    the base directory). CodeBuild logs "Skipping invalid file path <pattern>" for one
    pattern that matches nothing while others match; the reference is silent, and the
    rehearsal fails the phase for it too, the stricter reading.
    """
    found = _expand(root, artifacts.files, artifacts.base_directory, log)
    if isinstance(found, str):
        return f"CLIENT_ERROR: {found}"
    files, missing = found
    if not files:
        return "CLIENT_ERROR: no matching artifact paths found"
    if missing:
        return f"CLIENT_ERROR: no matching artifact paths found for {', '.join(missing)}"
    return _copy_artifacts(files, artifacts.discard_paths, output, log)


def _copy_artifacts(
    files: Sequence[tuple[Path, str]], discard_paths: bool, output: Path, log: BuildLog
) -> str | None:
    targets: dict[str, Path] = {}
    for source, relative in files:
        target = PurePosixPath(relative).name if discard_paths else relative
        if target in targets and targets[target] != source:
            # Silent in the reference: two files at one place would lose one; refused.
            return f"CLIENT_ERROR: two artifact files would both be written to {target}"
        targets[target] = source
    output.mkdir(parents=True, exist_ok=True)
    for target, source in targets.items():
        destination = output / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    log.line(f"Uploading {len(targets)} artifact file(s) to {output}")
    return None


def _expand(
    root: Path, patterns: Sequence[str], base_directory: str | None, log: BuildLog
) -> tuple[list[tuple[Path, str]], list[str]] | str:
    """The files ``patterns`` match under the base directories, and the patterns matching none.

    Returns ``[(file, path relative to its base directory)]`` and the unmatched patterns, or the
    message when no base directory matches. Locations as the reference lists them: a file, a file
    in a subdirectory, ``'**/*'`` (all files, recursively), ``dir/*`` (the files in dir),
    ``dir/**/*``; base-directory may be a pattern such as ``'my-directory*'``
    (#build-spec.artifacts.base-directory), and its own name is not part of the output paths.
    """
    log.line(f"Expanding base directory path: {base_directory or '.'}")
    bases = [root] if base_directory is None else _directories(root, base_directory)
    if not bases:
        return f"no matching base directory path found for {base_directory}"
    log.line("Assembling file list")
    found: dict[Path, str] = {}
    missing: list[str] = []
    for pattern in patterns:
        log.line(f"Expanding {pattern}")
        matched = {file: rel for base in bases for file, rel in _glob(base, pattern)}
        if not matched:
            log.line(f"Skipping invalid file path {pattern}")
            missing.append(pattern)
        found.update(matched)
    log.line(f"Found {len(found)} file(s)")
    return sorted(found.items()), missing


def _glob(base: Path, pattern: str) -> Iterator[tuple[Path, str]]:
    """Files (not directories) under ``base`` whose relative path matches ``pattern``.

    The walk starts below the pattern's literal leading directories, so ``image.json`` or
    ``build/reports/*.xml`` never walk the whole source tree (a virtualenv, node_modules...).
    """
    parts = _pattern_parts(pattern)
    literal = 0
    while literal < len(parts) and not _is_glob(parts[literal]):
        literal += 1
    if literal == len(parts):
        path = base.joinpath(*parts)
        if path.is_file():
            yield path, "/".join(parts)
        return
    start = base.joinpath(*parts[:literal])
    for directory, _, names in os.walk(start):
        for name in names:
            path = Path(directory, name)
            relative = path.relative_to(base).as_posix()
            if path.is_file() and _matches(parts, tuple(relative.split("/"))):
                yield path, relative


def _directories(root: Path, pattern: str) -> list[Path]:
    """The directories under ``root`` whose relative path matches ``pattern``."""
    parts = _pattern_parts(pattern)
    if not any(_is_glob(part) for part in parts):
        candidate = root.joinpath(*parts)
        return [candidate] if candidate.is_dir() else []
    found = []
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = Path(directory, name)
            if _matches(parts, path.relative_to(root).parts):
                found.append(path)
    return sorted(found)


def _pattern_parts(pattern: str) -> tuple[str, ...]:
    return tuple(part for part in PurePosixPath(pattern).parts if part != ".")


def _is_glob(part: str) -> bool:
    return any(char in part for char in "*?[")


def _matches(pattern: Sequence[str], path: Sequence[str]) -> bool:
    """Segment-wise glob: ``*``, ``?`` and ``[...]`` within one segment, ``**`` any number."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(rest, path[index:]) for index in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], head) and _matches(rest, path[1:])
