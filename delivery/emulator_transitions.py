"""CodePipeline's stage transitions on the emulator: what moto 5.2.5 does not implement.

moto's CodePipeline has no DisableStageTransition, EnableStageTransition or GetPipelineState
(its server answers them with an error). ``install`` adds them to moto's backend and responses,
with AWS's behaviour as documented
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_DisableStageTransition.html,
API_EnableStageTransition.html, API_GetPipelineState.html):

- a transition is per pipeline, stage and type (``Inbound``, ``Outbound``), enabled until
  disabled; disabling records the reason and when; enabling clears both;
- an unknown pipeline is ``PipelineNotFoundException``, an unknown stage
  ``StageNotFoundException``;
- GetPipelineState lists every stage in order, each with its ``inboundTransitionState``
  (``enabled``, and when disabled ``disabledReason`` and ``lastChangedAt``).

Nothing else of GetPipelineState (action or execution states) is modelled: the rehearsal keeps
its own record of executions (``delivery.rehearsal``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.codepipeline.exceptions import PipelineNotFoundException
from moto.codepipeline.models import CodePipeline, CodePipelineBackend
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.exceptions import JsonRESTError

TYPES = ("Inbound", "Outbound")


class StageNotFoundError(JsonRESTError):
    """AWS's ``StageNotFoundException``."""

    def __init__(self, pipeline: str, stage: str) -> None:
        super().__init__(
            "StageNotFoundException", f"Stage {stage} not found in pipeline {pipeline}"
        )


class TransitionTypeError(JsonRESTError):
    """AWS's validation error for a transition type outside the enum."""

    def __init__(self, given: str) -> None:
        super().__init__(
            "ValidationException",
            f"Value '{given}' at 'transitionType' failed to satisfy constraint: Member must "
            f"satisfy enum value set: [{', '.join(TYPES)}]",
        )


def _pipeline(backend: Any, name: str) -> CodePipeline:
    found: CodePipeline | None = backend.pipelines.get(name)
    if found is None:
        raise PipelineNotFoundException(
            f"Account '{backend.account_id}' does not have a pipeline with name '{name}'"
        )
    return found


def _disabled(pipeline: CodePipeline) -> dict[tuple[str, str], dict[str, Any]]:
    """The pipeline's disabled transitions: (stage, type) -> reason and time."""
    state: dict[tuple[str, str], dict[str, Any]] = pipeline.__dict__.setdefault(
        "_disabled_transitions", {}
    )
    return state


def _checked(backend: Any, name: str, stage: str, kind: str) -> CodePipeline:
    pipeline = _pipeline(backend, name)
    if kind not in TYPES:
        raise TransitionTypeError(kind)
    if stage not in [s["name"] for s in pipeline.pipeline["stages"]]:
        raise StageNotFoundError(name, stage)
    return pipeline


def disable_stage_transition(self: Any, name: str, stage: str, kind: str, reason: str) -> None:
    """Backend: close the transition, with its reason."""
    pipeline = _checked(self, name, stage, kind)
    _disabled(pipeline)[(stage, kind)] = {"disabledReason": reason, "lastChangedAt": time.time()}


def enable_stage_transition(self: Any, name: str, stage: str, kind: str) -> None:
    """Backend: open the transition again (opening an open one changes nothing)."""
    pipeline = _checked(self, name, stage, kind)
    _disabled(pipeline).pop((stage, kind), None)


def get_pipeline_state(self: Any, name: str) -> dict[str, Any]:
    """Backend: the stages in order, with their inbound transitions."""
    pipeline = _pipeline(self, name)
    disabled = _disabled(pipeline)
    stages = []
    for stage in pipeline.pipeline["stages"]:
        closed = disabled.get((stage["name"], "Inbound"))
        inbound = {"enabled": True} if closed is None else {"enabled": False, **closed}
        stages.append({"stageName": stage["name"], "inboundTransitionState": inbound})
    return {
        "pipelineName": name,
        "pipelineVersion": pipeline.pipeline.get("version", 1),
        "stageStates": stages,
    }


def _disable(self: Any) -> str:
    self.codepipeline_backend.disable_stage_transition(
        self._get_param("pipelineName"),
        self._get_param("stageName"),
        self._get_param("transitionType"),
        self._get_param("reason"),
    )
    return "{}"


def _enable(self: Any) -> str:
    self.codepipeline_backend.enable_stage_transition(
        self._get_param("pipelineName"),
        self._get_param("stageName"),
        self._get_param("transitionType"),
    )
    return "{}"


def _state(self: Any) -> str:
    return json.dumps(self.codepipeline_backend.get_pipeline_state(self._get_param("name")))


def install() -> None:
    """Add the three operations to moto's CodePipeline backend and responses (this process)."""
    backend: Any = CodePipelineBackend
    backend.disable_stage_transition = disable_stage_transition
    backend.enable_stage_transition = enable_stage_transition
    backend.get_pipeline_state = get_pipeline_state
    response: Any = CodePipelineResponse
    response.disable_stage_transition = _disable
    response.enable_stage_transition = _enable
    response.get_pipeline_state = _state
