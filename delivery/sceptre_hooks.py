"""Sceptre hooks of this project, registered under the ``sceptre.hooks`` entry point group."""

from __future__ import annotations

from sceptre.hooks import Hook


class TerminationProtection(Hook):  # type: ignore[misc] # sceptre ships no type information
    """``!termination_protection``: turn on CloudFormation termination protection for the stack.

    Sceptre 4.7 has no config key for it (``protect`` would also block updates, i.e. deploys), so
    prod stacks run this after every launch. It calls the API through Sceptre's own connection
    manager: the same credentials, region and endpoint as the launch itself, no AWS CLI needed.
    An argument of ``false`` turns protection off (for a deliberate teardown).
    """

    def run(self) -> None:
        """Enable (or, with the argument ``false``, disable) termination protection."""
        enable = str(self.argument).strip().lower() not in {"false", "off", "no", "0"}
        self.stack.connection_manager.call(
            service="cloudformation",
            command="update_termination_protection",
            kwargs={"StackName": self.stack.external_name, "EnableTerminationProtection": enable},
        )
