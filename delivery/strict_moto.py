"""The local emulator's server: moto, made as strict as AWS where it is kinder.

``python -m delivery.strict_moto -H 127.0.0.1 -p PORT`` is what ``delivery.emulator.Emulator``
runs (``bin/deploy``, the tests): every environment on the emulator gets these rules.

moto 5.2.5 is kinder than CloudFormation in three ways the termination-protection hook depends on:

- UpdateTerminationProtection is not implemented (the server answers HTTP 500). CloudFormation
  sets the flag and answers the StackId
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html);
- DeleteStack deletes a protected stack. CloudFormation refuses: "If a user attempts to delete a
  stack with termination protection enabled, the operation fails and the stack remains unchanged"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html);
- a resource that fails to create makes CreateStack itself fail, leaving the stack
  CREATE_IN_PROGRESS. CloudFormation accepts the stack, fails the resource and, by default
  (``OnFailure: ROLLBACK``,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html), rolls
  the stack back to ROLLBACK_COMPLETE, which can then only be deleted (Sceptre's launch deletes
  such a stack before it creates it again).

This module adds exactly those three behaviours to moto's own classes, then runs moto's server.
It adds no other behaviour; tests/integration/test_delivery_stacks.py says what AWS must confirm.
IAM is enforced by moto itself when asked (``POST /moto-api/reset-auth``), coarsely: actions only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from moto.cloudformation import models, responses
from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult


def _update_termination_protection(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection")
    return ActionResult({"StackId": stack.stack_id})


def _refusing_protected(delete_stack: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def delete_protected_never(self: Any) -> Any:
        name = self._get_param("StackName")
        for stack in self.cloudformation_backend.stacks.values():
            if name in (stack.name, stack.stack_id) and stack.enable_termination_protection:
                raise ValidationError(
                    message=(
                        f"Stack [{stack.stack_id}] cannot be deleted while TerminationProtection "
                        "is enabled"
                    )
                )
        return delete_stack(self)

    return delete_protected_never


def _rolling_back(create_resources: Callable[[Any], None]) -> Callable[[Any], None]:
    def create_or_roll_back(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as exc:  # any resource failure rolls the create back
            reason = " ".join(str(exc).split()) or type(exc).__name__
            self._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            self._add_stack_event("ROLLBACK_COMPLETE")
            self.status = "ROLLBACK_COMPLETE"

    return create_or_roll_back


def install() -> None:
    """Patch moto's CloudFormation classes in this process (before the server starts)."""
    # Patching moto's classes is the point here; mypy rightly objects to assigning methods.
    response = responses.CloudFormationResponse
    response.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
    response.delete_stack = _refusing_protected(response.delete_stack)  # type: ignore[method-assign,assignment]
    models.Stack.create_resources = _rolling_back(models.Stack.create_resources)  # type: ignore[method-assign,assignment]


if __name__ == "__main__":
    from moto import server

    install()
    server.main(sys.argv[1:])
