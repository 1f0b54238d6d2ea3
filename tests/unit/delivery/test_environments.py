"""Environments are config/<env>/ folders; their facts come from config.yaml with fallbacks.

The sample project is tests/support/project.py's (local, dev, prod and shared, like config/).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery import environments
from delivery.errors import DeliveryError
from tests.support.project import make_project


def test_environments_are_the_config_folders_except_shared(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / ".hidden").mkdir()
    assert environments.names(tmp_path) == ["dev", "local", "prod"]


def test_facts_come_from_config_with_fallbacks(tmp_path: Path) -> None:
    make_project(tmp_path)
    local = environments.load("local", tmp_path)
    dev = environments.load("dev", tmp_path)
    prod = environments.load("prod", tmp_path)
    assert (local.emulator, local.registry_group, local.destroy_protection) == (
        True,
        "local",
        False,
    )
    assert (dev.emulator, dev.registry_group, dev.destroy_protection) == (False, "shared", False)
    assert prod.destroy_protection
    assert (local.releases_only, dev.releases_only, prod.releases_only) == (False, False, True)
    assert dev.region == "eu-north-1"
    assert dev.registry_path == "shared/registry.yaml"
    assert dev.stack_name("service") == "flask-fargate-dev-service"
    assert dev.stack_name("registry", "shared") == "flask-fargate-shared-registry"
    assert local.stacks() == ["registry", "service"]


def test_explicit_keys_override_and_jinja_lines_are_ignored(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "config.yaml").write_text(
        "region: eu-west-1\ndestroy_protection: true\nregistry: local\nreleases_only: true\n"
        "stack_tags:\n  owner: {{ var.owner }}\nsomething: !stack_output x.yaml::Y\n"
    )
    dev = environments.load("dev", tmp_path)
    assert (dev.region, dev.destroy_protection, dev.registry_group) == ("eu-west-1", True, "local")
    assert dev.releases_only
    (tmp_path / "config" / "prod" / "config.yaml").write_text("releases_only: false\n")
    assert not environments.load("prod", tmp_path).releases_only


def test_unknown_environment_names_the_valid_ones(tmp_path: Path) -> None:
    make_project(tmp_path)
    with pytest.raises(DeliveryError) as info:
        environments.load("qa", tmp_path)
    assert str(info.value) == "unknown environment 'qa': choose one of dev, local, prod"
    with pytest.raises(DeliveryError, match="shared"):
        environments.load("shared", tmp_path)
    with pytest.raises(DeliveryError, match="no environment given"):
        environments.load(None, tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region: [unclosed\n", "is not valid YAML"),
        ("destroy_protection: maybe\n", "'destroy_protection' must be true or false"),
        ("releases_only: sometimes\n", "'releases_only' must be true or false"),
        ("registry: nowhere\n", "registry 'nowhere' is not a folder"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "config.yaml").write_text(text)
    with pytest.raises(DeliveryError, match=message) as info:
        environments.load("dev", tmp_path)
    assert "\n" not in str(info.value)


def test_no_config_folder_means_no_environments(tmp_path: Path) -> None:
    assert environments.names(tmp_path) == []
    with pytest.raises(DeliveryError, match="none found under config/"):
        environments.load("dev", tmp_path)


def test_stack_region_follows_sceptre_nearest_config_wins(tmp_path: Path) -> None:
    make_project(tmp_path)
    config = tmp_path / "config"
    (config / "dev" / "budget.yaml").write_text("template:\n  path: b.json\nregion: us-east-1\n")
    assert environments.stack_region(tmp_path, "dev/budget") == "us-east-1"
    assert environments.stack_region(tmp_path, "dev/service") == "eu-north-1"  # config/config.yaml
    (config / "dev" / "config.yaml").write_text("region: eu-west-1\n")
    assert environments.stack_region(tmp_path, "dev/service") == "eu-west-1"
    assert environments.stack_region(tmp_path, "dev/budget") == "us-east-1"


def test_a_stack_is_read_where_sceptre_deployed_it(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "budget.yaml").write_text(
        "template:\n  path: b.json\nregion: us-east-1\n"
    )
    dev = environments.load("dev", tmp_path)
    assert dev.stack_ref("budget") == environments.StackRef("flask-fargate-dev-budget", "us-east-1")
    assert dev.stack_ref("service") == environments.StackRef(
        "flask-fargate-dev-service", "eu-north-1"
    )
    (tmp_path / "config" / "shared" / "config.yaml").write_text("region: eu-west-1\n")
    assert dev.stack_ref("registry", "shared") == environments.StackRef(
        "flask-fargate-shared-registry", "eu-west-1"
    )


def test_the_real_prod_takes_releases_only() -> None:
    prod = environments.load("prod")
    assert prod.releases_only
    assert prod.destroy_protection
