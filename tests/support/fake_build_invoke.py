"""``python -m invoke`` with only the image build and scan faked: the smallest real local deploy.

Everything else is the real command: invoke's parser and tasks.py's ``deploy`` with its one-line
errors, the local session, the moto server, Sceptre's launch and the service under gunicorn
(``--serve process``). Only what needs a container engine is replaced, exactly as
tests/integration/test_local_session.py replaces it (``fake_steps``): so the tests that kill a
deploy need no engine and no image build.

Usage (from the repository, ``DELIVERY_PROJECT_ROOT`` naming a sample project)::

    python -m tests.support.fake_build_invoke <version> deploy --env local --serve process
"""

from __future__ import annotations

import faulthandler
import signal
import sys

from invoke.collection import Collection
from invoke.program import Program

import tasks
from delivery import deploy
from delivery.local.session import Session
from tests.support.deploy_steps import fake_steps


def main(argv: list[str]) -> None:
    """Run ``invoke <argv[1:]>`` on tasks.py, building and scanning version ``argv[0]`` fakely."""
    version, *args = argv
    # A test that finds this process stuck asks it where (SIGUSR1: every thread's stack, on stderr).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    real_steps = Session.steps

    def steps(self: Session, base: deploy.Steps | None = None) -> deploy.Steps:
        return real_steps(self, base or fake_steps(version))

    Session.steps = steps  # type: ignore[method-assign]
    Program(namespace=Collection.from_module(tasks)).run(["invoke", *args])


if __name__ == "__main__":
    main(sys.argv[1:])
