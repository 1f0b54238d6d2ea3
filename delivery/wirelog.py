"""No request or response logging while a secret value is on the wire.

With ``invoke --debug`` the root logger takes DEBUG records, and botocore then logs every request
body (``botocore.endpoint``) and response body (``botocore.parsers``): a PutSecretValue's
``SecretString``, a GetSecretValue's answer. Around those calls these loggers take WARNING and up
only, whatever the root logger's level.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

# The libraries that log what goes over the wire at DEBUG.
WIRE_LOGGERS = ("botocore", "boto3", "urllib3")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Inside: no DEBUG or INFO records from the wire loggers; their levels restored after."""
    loggers = [logging.getLogger(name) for name in WIRE_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
