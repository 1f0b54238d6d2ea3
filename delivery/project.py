"""The project's name on delivery's side: read from Sceptre's ``project_code``, never spelt here.

config/config.yaml's ``project_code`` is the one setting: Sceptre prefixes the stack names with
it, passes it to every stack (``sceptre_user_data.project``, from which the stacks derive their
names) and tags the stacks with it. Delivery reads the same value: an environment's stack names
(``environments.Environment.project_code``), the local image's name, the local containers' names
and the prefix of the state this machine keeps.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from delivery import sceptre_yaml
from delivery.errors import DeliveryError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KEY = "project_code"


def code(root: Path) -> str:
    """The ``project_code`` of the Sceptre project at ``root`` (its config/config.yaml)."""
    path = root / "config" / "config.yaml"
    try:
        data = sceptre_yaml.read(path, jinja="") if path.is_file() else None
    except yaml.YAMLError as exc:
        raise DeliveryError(f"{path} is not valid YAML: fix the file") from exc
    value = data.get(KEY) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise DeliveryError(f"{path} sets no {KEY}: add `{KEY}: <the project's name>` to it")
    return value


NAME = code(PROJECT_ROOT)
"""This checkout's project name: the prefix of what delivery names outside any one config."""
