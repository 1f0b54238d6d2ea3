"""Sceptre hooks of this project, registered under the ``sceptre.hooks`` entry point group."""

from __future__ import annotations

from typing import Any

from sceptre.hooks import Hook

SETTING = "deletion_protection"
# Stack states after which a stack is settled and in use: its protection follows the setting.
# CloudFormation's "last known stable state"s, as RollbackStack lists them:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html
SETTLED = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)
# A create that failed: the stack must be deleted before Sceptre can create it again, and
# termination protection would refuse that delete (Sceptre's launch deletes ROLLBACK_COMPLETE).
FAILED_CREATE = frozenset({"CREATE_FAILED", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE"})


def wanted_protection(status: str, setting: bool) -> bool | None:
    """Termination protection a stack in ``status`` should have; None: leave it as it is.

    Settled stacks follow the setting, both ways. A failed create is left unprotected so it can
    be deleted and created again. Anything in progress or stuck is not touched.
    """
    if status in SETTLED:
        return setting
    if status in FAILED_CREATE:
        return False
    return None


class TerminationProtection(Hook):  # type: ignore[misc] # sceptre ships no type information
    """``!termination_protection``: the stack's termination protection follows its settings.

    Runs after every launch (Sceptre 4.7 has no config key for protection; ``protect`` would also
    block updates, i.e. deploys). It reads the stack's ``deletion_protection`` setting
    (``sceptre_user_data``, default false) and its status, then sets CloudFormation termination
    protection through Sceptre's own connection manager (the launch's credentials, region and
    endpoint): on a settled stack to the setting, so "set deletion_protection: false, deploy,
    destroy" works; after a failed create off, so the create can be retried. The hook takes no
    argument: the setting is the one home of the fact.
    """

    def run(self) -> None:
        """Make the stack's termination protection what its setting and status call for."""
        if self.argument is not None:
            raise ValueError(
                f"!termination_protection takes no argument (got {self.argument!r}): set "
                f"{SETTING} in the stack's sceptre_user_data instead"
            )
        setting = self._setting()
        name = self.stack.external_name
        stack = self._call("describe_stacks", StackName=name)["Stacks"][0]
        status = str(stack["StackStatus"])
        current = bool(stack.get("EnableTerminationProtection", False))
        wanted = wanted_protection(status, setting)
        if wanted is None:
            self.logger.warning(
                "%s - termination protection left %s: the stack is %s, not settled",
                name,
                "on" if current else "off",
                status,
            )
            return
        if wanted != current:
            self._call(
                "update_termination_protection",
                StackName=name,
                EnableTerminationProtection=wanted,
            )
        if status in FAILED_CREATE:
            self.logger.warning(
                "%s - the create failed (%s): termination protection is off so the stack can "
                "be deleted and created again",
                name,
                status,
            )
        else:
            self.logger.info(
                "%s - termination protection %s (%s: %s)",
                name,
                "on" if wanted else "off",
                SETTING,
                str(setting).lower(),
            )

    def _setting(self) -> bool:
        user_data = self.stack.sceptre_user_data or {}
        value = user_data.get(SETTING, False) if isinstance(user_data, dict) else False
        if not isinstance(value, bool):
            raise ValueError(f"{self.stack.name}: {SETTING} must be true or false, not {value!r}")
        return value

    def _call(self, command: str, **kwargs: Any) -> Any:
        return self.stack.connection_manager.call(
            service="cloudformation", command=command, kwargs=kwargs
        )
