"""The library behind tasks.py: image, versions, registry, stacks, deploys and the local emulator.

This package is the only place that talks to AWS APIs, container engines and git.

Progress is logged: each module has ``log = logging.getLogger(__name__)`` and reports a step with
``log.info(line)``. The library installs no handler; tasks.py prints the ``delivery`` loggers'
INFO lines on stdout, as bare lines (``one_line_errors``). What a command does quietly is DEBUG.
"""
