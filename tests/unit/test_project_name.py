"""The project's name is one setting: config/config.yaml's ``project_code``.

Renaming the project is that one edit: Sceptre and ``delivery.render`` pass it to every stack
(``sceptre_user_data.project``), the stacks derive every name from it, delivery reads it from the
config. Proved offline on a copy of config/ renamed to ``acme-api``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext

from delivery import deploy_plan, environments, project, render
from delivery.errors import DeliveryError
from delivery.local import runner
from tests.support.cfn import Template, resources

ROOT = Path(__file__).resolve().parents[2]
OLD = "flask-fargate"
NEW = "acme-api"
# Sceptre's reader resolves Jinja in the stack configs; generating a template needs no value.
VARIABLES = {
    "image_uri": "x",
    "app_version": "1.0.0",
    "production_target_group": "Blue",
    "deployment_pace": "guarded",
    "connection_arn": "x",
}


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root whose config/ is this one's with ``project_code: acme-api``.

    The pipeline's GitHub repository (config/shared/pipeline.yaml) is the source's address, a
    setting of its own that every adopter edits anyway; the copy points it at ``acme-api`` too,
    so no ``flask-fargate`` is left to find.
    """
    root = tmp_path_factory.mktemp("renamed")
    shutil.copytree(ROOT / "config", root / "config")
    (root / "templates").symlink_to(ROOT / "templates")
    top = root / "config" / "config.yaml"
    text = top.read_text()
    assert f"project_code: {OLD}\n" in text
    top.write_text(text.replace(f"project_code: {OLD}\n", f"project_code: {NEW}\n"))
    pipeline = root / "config" / "shared" / "pipeline.yaml"
    pipeline.write_text(pipeline.read_text().replace(f"/{OLD}", f"/{NEW}"))
    return root


@pytest.fixture(scope="module")
def rendered(renamed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``rendered["<env>/<stack>"]``: the JSON text of every stack of the renamed copy."""
    out = tmp_path_factory.mktemp("rendered")
    paths = render.render(out, config_dir=renamed / "config")
    return {f"{path.parent.name}/{path.stem}": path.read_text() for path in paths}


def _template(rendered: dict[str, str], path: str) -> Template:
    return dict(json.loads(rendered[path]))


def _sub(value: Any) -> str:
    return str(value["Fn::Sub"]) if isinstance(value, dict) and "Fn::Sub" in value else str(value)


def test_every_stack_renders_and_none_names_the_old_project(rendered: dict[str, str]) -> None:
    assert sorted(rendered) == sorted(
        f"{stack.environment}/{stack.name}" for stack in render.stack_configs()
    )
    assert [path for path, text in rendered.items() if OLD in text] == []
    for path in rendered:
        assert _template(rendered, path)["Description"].startswith(f"{NEW}: "), path


def test_the_pipelines_iam_arns_follow_the_name(rendered: dict[str, str]) -> None:
    text = rendered["shared/pipeline"]
    assert f"stack/{NEW}-shared-registry/*" in text
    assert f"role/cloudformation/{NEW}-dev" in text
    assert f"role/cloudformation/{NEW}-prod" in text
    assert f"service/{NEW}-dev-service-*/*" in text
    assert f"codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{NEW}-shared-pipeline-*" in text


def test_the_roles_names_and_patterns_follow_the_name(rendered: dict[str, str]) -> None:
    cloudformation = resources(_template(rendered, "shared/cloudformation-roles"), "AWS::IAM::Role")
    assert {role["Properties"]["RoleName"] for role in cloudformation.values()} == {
        f"{NEW}-dev",
        f"{NEW}-prod",
    }
    policies = resources(
        _template(rendered, "shared/cloudformation-roles"), "AWS::IAM::ManagedPolicy"
    )
    scoped = {
        _sub(resource)
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for resource in statement["Resource"]
        if "iam::" in _sub(resource) and "aws-service-role" not in _sub(resource)
    }
    assert scoped == {
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{NEW}-{env}-*"
        for env in ("dev", "prod")
    }
    oncall = resources(_template(rendered, "shared/oncall-roles"), "AWS::IAM::Role")
    assert {role["Properties"]["RoleName"] for role in oncall.values()} == {
        f"{NEW}-{env}-{kind}" for env in ("dev", "prod") for kind in ("readonly", "incident")
    }


def test_the_metric_namespace_and_the_repositories_follow_the_name(
    rendered: dict[str, str],
) -> None:
    for env in ("dev", "prod", "local"):
        assert f'"Namespace": "{NEW}/{env}"' in rendered[f"{env}/monitoring"], env
    for path, name in (("shared/registry", NEW), ("local/registry", f"{NEW}-local")):
        (repository,) = resources(_template(rendered, path), "AWS::ECR::Repository").values()
        assert repository["Properties"]["RepositoryName"] == name


@pytest.mark.parametrize("group", ["dev", "shared"])
def test_sceptre_passes_the_name_and_tags_with_it_as_render_does(
    renamed: Path, rendered: dict[str, str], group: str
) -> None:
    """Sceptre's own reader: stack names, the Project tag, the settings' ``project`` and the
    template it would send are those of ``project_code`` and of ``delivery.render``."""
    context = SceptreContext(
        project_path=str(renamed), command_path=group, user_variables=VARIABLES
    )
    stacks, _ = ConfigReader(context).construct_stacks()
    ours = {
        f"{stack.environment}/{stack.name}": stack
        for stack in render.stack_configs(renamed / "config", [group])
    }
    sceptre = {stack.name: stack for stack in stacks if stack.name.startswith(f"{group}/")}
    assert sorted(sceptre) == sorted(ours)
    for path, stack in sceptre.items():
        assert stack.external_name == f"{NEW}-{path.replace('/', '-')}"
        assert stack.tags["Project"] == NEW
        assert stack.sceptre_user_data == ours[path].user_data
        assert stack.sceptre_user_data["project"] == NEW
        body = stack.template.body.removeprefix("---\n")
        assert json.loads(body) == json.loads(rendered[path]), path


def test_delivery_reads_the_name_from_the_config(renamed: Path) -> None:
    assert project.code(renamed) == NEW
    dev = environments.load("dev", renamed)
    assert dev.project_code == NEW
    assert dev.stack_name("service") == f"{NEW}-dev-service"
    assert deploy_plan.service_stack(dev).name == f"{NEW}-dev-service"
    # The repository: delivery reads it from the registry stack's outputs.
    assert deploy_plan.registry_stack(dev).name == f"{NEW}-shared-registry"
    local = environments.load("local", renamed)
    assert deploy_plan.registry_stack(local).name == f"{NEW}-local-registry"
    assert runner.container_name(local.project_code, 8080) == f"{NEW}-local-8080"


def test_this_checkouts_name_is_its_configs() -> None:
    """The checkout's name (the local image, this machine's state) is config/config.yaml's."""
    assert project.code(ROOT) == project.NAME
    assert environments.load("dev", ROOT).stack_name("service") == f"{project.NAME}-dev-service"


def test_a_config_without_project_code_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("region: eu-north-1\n")
    with pytest.raises(DeliveryError, match=r"config\.yaml sets no project_code: add"):
        project.code(tmp_path)


def test_no_module_spells_the_name_out() -> None:
    # Every name derives from the one setting, so a rename is one edit of config/config.yaml.
    spelled = [
        str(path.relative_to(ROOT))
        for folder in ("delivery", "docgen", "stacks", "templates")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if any(
            f'"{OLD}' in line or f"'{OLD}" in line
            for line in path.read_text().splitlines()
            if not line.lstrip().startswith("#")
        )
    ]
    assert spelled == []


def test_a_name_aws_cannot_take_is_refused_before_anything_renders(
    renamed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ECR repository names are lowercase: an uppercase project_code is one line, exit 2."""
    config = tmp_path / "config"
    shutil.copytree(renamed / "config", config)
    top = config / "config.yaml"
    top.write_text(top.read_text().replace(f"project_code: {NEW}\n", "project_code: Acme_API\n"))
    assert (
        render.main(["--config", str(config), "--out", str(tmp_path / "out")])
        == render.EXIT_SETTINGS
    )
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1
    assert "project='Acme_API': String should match pattern" in error
    assert not (tmp_path / "out").exists()
