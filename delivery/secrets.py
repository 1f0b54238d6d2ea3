"""An environment's declared secrets and the versions its service stack pins them to.

The secrets are declared in ``config/<env>/service.yaml`` (``sceptre_user_data.secrets``, read
offline like the task platform); which version of each the task reads is the service stack's
``SecretVersions`` parameter (stacks/service/secrets.py), passed to Sceptre as the variable
``secret_versions``. A deploy keeps each secret's live pin, read from the stack's parameters as
late as the production target group is; ``invoke secret set`` changes one
(delivery/secret_command.py). Values are never read here: only names and version ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from delivery import deploy_plan, sceptre_yaml, stacks, traffic
from delivery.environments import Environment
from delivery.errors import DeliveryError
from stacks.service.secrets import VERSIONS_PARAMETER, decode, encode, logical_id
from stacks.service.settings import Secret

VARIABLE = "secret_versions"


def declared(env: Environment) -> list[Secret]:
    """The secrets ``env``'s service config declares, in order; one line when malformed."""
    path = env.config_dir / f"{deploy_plan.SERVICE_STACK}.yaml"
    data: Any = sceptre_yaml.read(path) if path.is_file() else {}
    user_data = (data.get("sceptre_user_data") or {}) if isinstance(data, dict) else {}
    entries = (user_data.get("secrets") or []) if isinstance(user_data, dict) else []
    try:
        return [Secret.model_validate(entry) for entry in entries]
    except ValidationError as exc:
        raise DeliveryError(
            f"config/{env.name}/{path.name}: secrets are malformed: "
            f"{exc.errors()[0]['msg']} (see docs/SETTINGS.md, service secrets)"
        ) from None


def find(env: Environment, name: str) -> Secret:
    """The declared secret ``name``; one line listing the declared ones otherwise."""
    secrets = declared(env)
    for secret in secrets:
        if secret.name == name:
            return secret
    names = ", ".join(s.name for s in secrets) or "none"
    raise DeliveryError(
        f"secret '{name}' is not declared for environment '{env.name}' (declared: {names}): "
        f"add it to config/{env.name}/{deploy_plan.SERVICE_STACK}.yaml sceptre_user_data.secrets "
        "and deploy first"
    )


def live_versions(env: Environment) -> dict[str, str]:
    """``{name: version id}`` the service stack pins now ({} before it exists)."""
    stack = deploy_plan.service_stack(env)
    if stacks.state(stack).status in traffic.NO_RESOURCES:  # Sceptre creates it anew
        return {}
    return decode(stacks.parameters(stack).get(VERSIONS_PARAMETER, ""))


def versions_variable(env: Environment, pin: Mapping[str, str]) -> str:
    """The ``secret_versions`` variable: each declared secret's live pin, or ``pin``'s."""
    names = [secret.name for secret in declared(env)]
    undeclared = sorted(set(pin) - set(names))
    if undeclared:
        raise DeliveryError(f"cannot pin undeclared secret {', '.join(undeclared)}")
    try:
        return encode(names, {**live_versions(env), **pin})
    except ValueError as exc:
        raise DeliveryError(f"stack parameter {VERSIONS_PARAMETER}: {exc}") from None


def unpinned(env: Environment, variable: str) -> list[str]:
    """The declared secrets ``variable`` pins to no version: never set with ``secret set``."""
    pinned = decode(variable)
    return [secret.name for secret in declared(env) if secret.name not in pinned]


def secret_arn(env: Environment, secret: Secret) -> str:
    """The ARN of ``secret``'s resource in the live service stack; one line when it has none."""
    stack = deploy_plan.service_stack(env)
    arn = stacks.resource_ids(stack).get(logical_id(secret), "")
    if not arn.startswith("arn:"):
        raise DeliveryError(
            f"stack {stack.name} has no secret {secret.name} yet: deploy environment "
            f"'{env.name}' first (invoke deploy --env {env.name})"
        )
    return arn
