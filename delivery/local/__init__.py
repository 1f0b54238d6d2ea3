"""The ``local`` environment: the emulator's lifecycle across commands, and the service run locally.

A deploy to an emulator environment (``--env local``) runs inside a ``Session``:

- it uses an emulator that is already there, or starts its own. "Already there" is either
  ``AWS_ENDPOINT_URL`` pointing at a loopback endpoint (an emulator someone else runs, e.g. a test
  fixture; never started or stopped here) or the one recorded in ``.local/emulator.json`` by an
  earlier ``deploy --keep`` whose process still answers;
- clients reach the emulator only through the standard AWS variables (``emulator.environment``);
- after the stacks are up, the service itself runs on this machine, configured from what the
  emulator holds: the task definition the service stack registered (image, environment, secrets,
  port, user, read-only root, dropped capabilities, volumes). As a container where an engine can
  run one, run as Fargate runs it (delivery/taskvolumes.py: no writable path Fargate would not
  give), else under gunicorn from the same entry point. Then readiness, and ``/version`` must
  report the deployed version;
- at the end it stops what it started (service, emulator) unless ``keep``: then both stay up and
  are recorded, for ``status``/``rollback``/``diff`` and the AWS CLI. A failure always stops what
  this command started, so nothing is left running.

One job per module:

- ``session``: one command's use of the emulator, from opening to what stays up at the end;
- ``task_definition``: what the emulator says the service runs (the task-definition read-back);
- ``runner``: the service on this machine, as a container or a gunicorn process: start, ready, stop;
- ``record``: ``.local/emulator.json``, what a ``--keep`` left running;
- ``processes``: processes this project started, found and stopped by pid;
- ``gunicorn``: the one gunicorn launcher and readiness poll, shared with bench/ and the tests;
- ``lifeline``: the watcher that undoes what a killed command left (a container, a kept emulator);
- ``collector``: the stand-in for the task's ADOT collector sidecar, run next to the service.

Nothing is imported here: ``gunicorn`` must stay importable without boto3 or Sceptre (the fuzz and
drain sessions install neither).

The emulator proves wiring and orchestration, not AWS semantics (docs/LOCAL.md).
"""
