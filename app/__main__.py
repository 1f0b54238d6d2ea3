"""``python -m app``: validate the environment, then run gunicorn with the service's config.

Same behaviour as ``gunicorn --config python:app.gunicorn_conf app.wsgi:app``; extra arguments
are passed on to gunicorn.
"""

from __future__ import annotations

import sys

from app.config import ConfigError, load_config
from app.observability.logging import stderr_line


def main(argv: list[str] | None = None) -> int:
    """Check the configuration (one-line error, exit 2) and hand over to gunicorn."""
    try:
        load_config()
    except ConfigError as error:
        stderr_line(str(error))
        return 2
    from gunicorn.app.wsgiapp import run  # noqa: PLC0415 - only once the config is known good

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["gunicorn", "--config", "python:app.gunicorn_conf", *args, "app.wsgi:app"]
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
