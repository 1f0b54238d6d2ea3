"""A rehearsed build gets the CodeBuild image's tools and a fresh Python, nothing else."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal import image

STANDARD = image.image(image.STANDARD_7)


def run(toolbox: image.Toolbox, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=toolbox.environment(), capture_output=True, text=True, check=False, timeout=60
    )


def test_only_the_images_tools_are_on_the_path_and_python_starts_empty(tmp_path: Path) -> None:
    toolbox = image.prepare(STANDARD, tmp_path)
    assert run(toolbox, "sh", "-c", "command -v git").returncode == 0
    # Installed on this machine, not on the image: a build that needs them fails here too.
    for missing in ("dot", "wrk", "podman", "buildah", "hadolint", "trivy", "uv"):
        assert run(toolbox, "sh", "-c", f"command -v {missing}").returncode != 0, missing
    python = run(toolbox, "python", "-c", "import sys; print(sys.prefix)")
    assert python.stdout.strip() == str(tmp_path / "python")
    assert run(toolbox, "python", "-c", "import pip").returncode == 0
    # Nothing of this machine's own site-packages (boto3 is in this project's environment).
    assert run(toolbox, "python", "-c", "import boto3").returncode != 0
    assert toolbox.environment()["HOME"] == "/root"


def test_a_runtime_the_image_does_not_offer_is_one_line() -> None:
    image.check_runtime(STANDARD, {"python": "3.11"})
    with pytest.raises(DeliveryError, match=r"python 3\.8 is not offered by aws/codebuild"):
        image.check_runtime(STANDARD, {"python": "3.8"})
    with pytest.raises(DeliveryError, match="nodejs is not a runtime the rehearsal provides"):
        image.check_runtime(STANDARD, {"nodejs": "20"})


def test_an_image_the_rehearsal_does_not_know_is_one_line() -> None:
    with pytest.raises(DeliveryError, match=r"stands in for aws/codebuild/standard:7\.0 only"):
        image.image("aws/codebuild/amazonlinux2-x86_64-standard:5.0")


def test_the_engine_stand_in_runs_podman_with_its_own_path_and_the_given_store(
    tmp_path: Path,
) -> None:
    podman = image.engine_stand_in(tmp_path, {"CONTAINERS_STORAGE_CONF": "/x/storage.conf"})
    text = podman.read_text()
    assert podman.name == "podman"
    assert (tmp_path / "buildah").is_file()
    assert f"export PATH='{image.ENGINE_PATH}'" in text
    assert "export CONTAINERS_STORAGE_CONF='/x/storage.conf'" in text
    assert text.rstrip().endswith('"$@"')
