"""IAM for the tests: record the AWS calls a code path makes, to judge them as AWS would.

The judgement itself is the rehearsal's (``delivery.rehearsal.policy``: which requests a call
makes, and AWS's evaluation of a policy over them). Here, what the tests add to it:

- ``Recorder`` / ``recording_environment``: every botocore call of a process (Sceptre's clients
  included), as the IAM action it needs plus its parameters, in-process or in a subprocess;
- ``resolve``: a role's policy document from the rendered template, its intrinsic functions
  replaced by the emulator account's values;
- ``requests``: the requests of a call in the emulator's account.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery.rehearsal import policy
from delivery.rehearsal.policy import Call, Evaluator, Request

__all__ = ["ACCOUNT", "Call", "Evaluator", "Recorder", "Request", "requests", "resolve"]

# A botocore service's signing name -> IAM's service prefix, where they differ.
_PREFIXES = {"monitoring": "cloudwatch"}
ACCOUNT = "123456789012"  # moto's default account
# Emitted once per API call with the parameters as the caller gave them (botocore/client.py).
EVENT = "before-parameter-build"
PARTITION = "aws"


def _action(model: Any) -> str:
    signing = model.service_model.signing_name
    return f"{_PREFIXES.get(signing, signing)}:{model.name}"


@dataclass
class Recorder:
    """Records every botocore call made in this process by clients created after ``install``."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, params: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        """botocore's ``before-parameter-build`` handler: the call's API parameters, as given."""
        call = Call(_action(model), str(context.get("client_region")), dict(params))
        with self._lock:
            self.calls.append(call)

    def __enter__(self) -> Recorder:
        import botocore.handlers  # noqa: PLC0415

        botocore.handlers.BUILTIN_HANDLERS.append((EVENT, self.record))
        return self

    def __exit__(self, *_: object) -> None:
        import botocore.handlers  # noqa: PLC0415

        botocore.handlers.BUILTIN_HANDLERS.remove((EVENT, self.record))


# A sitecustomize for subprocesses: Python imports it at start-up from PYTHONPATH, before any
# botocore session exists, so every client the process creates (Sceptre's too) is recorded.
_SITECUSTOMIZE = textwrap.dedent(
    """
    import json, os, threading
    import botocore.handlers

    _PREFIXES = {"monitoring": "cloudwatch"}
    _LOCK = threading.Lock()

    def _record(params, model, context, **_):
        signing = model.service_model.signing_name
        line = json.dumps({
            "action": f"{_PREFIXES.get(signing, signing)}:{model.name}",
            "region": context.get("client_region"),
            "params": params,
        }, default=str)
        with _LOCK, open(os.environ["AWS_CALL_LOG"], "a") as log:
            log.write(line + "\\n")

    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _record))
    """
)


def recording_environment(folder: Path) -> dict[str, str]:
    """Environment variables that make a Python subprocess record its AWS calls in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    existing = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (str(folder), existing) if p),
        "AWS_CALL_LOG": str(folder / "calls.jsonl"),
    }


def recorded_calls(folder: Path) -> list[Call]:
    """What a subprocess started with ``recording_environment(folder)`` called."""
    log = folder / "calls.jsonl"
    if not log.exists():
        return []
    return [
        Call(data["action"], str(data["region"]), data["params"])
        for data in map(json.loads, log.read_text().splitlines())
    ]


# --- policies ---------------------------------------------------------------------------------


def resolve(value: Any, names: Mapping[str, str]) -> Any:  # noqa: PLR0911 - one per function
    """``value`` with Ref/Fn::Sub/Fn::GetAtt/Fn::Join resolved (``names``: Ref and GetAtt values).

    ``names`` maps a parameter or resource to its value, and ``<Resource>.<Attribute>`` to an
    attribute's; the pseudo parameters come from the emulator's account and the region given as
    ``AWS::Region``.
    """
    pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, **names}
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return pseudo[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        resource, attribute = value["Fn::GetAtt"]
        return pseudo[f"{resource}.{attribute}"]
    if set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        return separator.join(resolve(items, names))
    if set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        text, local = (body, {}) if isinstance(body, str) else (body[0], body[1])
        variables = {**pseudo, **{k: resolve(v, names) for k, v in local.items()}}
        for name, replacement in variables.items():
            text = text.replace("${" + name + "}", str(replacement))
        if "${" in text:
            raise KeyError(f"unresolved variable in {text}")
        return text
    return {key: resolve(item, names) for key, item in value.items()}


def role_statements(template: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    """The statements of ``role``'s inline policies (as rendered, not yet resolved)."""
    properties = template["Resources"][role]["Properties"]
    return [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


def requests(call: Call) -> Iterator[Request]:
    """The authorization requests one call makes, in the emulator's account."""
    return policy.requests(call, policy.Account(ACCOUNT, PARTITION))
