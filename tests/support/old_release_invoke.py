"""``python -m invoke`` on a repository whose release v1.0.0 predates ``rollback --fast``.

For the bad-input catalogue: the real command line (invoke's parser, tasks.py, its one-line
errors, the rollback up to the release's checkout), on a throwaway sample project tagged v1.0.0
(``DELIVERY_PROJECT_ROOT``), whose release's command line is an old one: its ``rollback`` has no
``--fast`` (``OLD_TASKS`` stands in for it, run by this interpreter).

Usage, from the repository::

    python -m tests.support.old_release_invoke rollback --env local --to 1.0.0 --fast
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# The old release's tasks.py: a rollback without --fast, which must never run here.
OLD_TASKS = """\
import sys
from invoke import task

@task
def rollback(c, env=None, to=None, allow_prerelease=False):
    sys.exit("the old release's rollback ran: it should have been refused before")
"""


def main(argv: list[str]) -> None:
    """Run ``invoke <argv>`` on tasks.py against a sample project released as v1.0.0."""
    from tests.support.git import git  # noqa: PLC0415 - after nothing: keeps startup honest
    from tests.support.project import make_project  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp) / "project", git_init=True)
        git(project, "tag", "v1.0.0")
        old = Path(tmp) / "old-release"
        old.mkdir()
        (old / "tasks.py").write_text(OLD_TASKS)
        os.environ["DELIVERY_PROJECT_ROOT"] = str(project)  # read when tasks.py is imported
        from invoke.collection import Collection  # noqa: PLC0415
        from invoke.program import Program  # noqa: PLC0415

        import tasks  # noqa: PLC0415
        from delivery import release_checkout  # noqa: PLC0415

        release_checkout.release_invoke = lambda path: [
            sys.executable,
            "-m",
            "invoke",
            "--search-root",
            str(old),
        ]
        Program(namespace=Collection.from_module(tasks)).run(["invoke", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
