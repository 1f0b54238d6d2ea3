"""What an AWS call's failure says, in one line: the one reading of botocore's errors."""

from __future__ import annotations

from botocore.exceptions import ClientError


def code(exc: BaseException) -> str | None:
    """The AWS error code of a refused call (``AccessDenied``, ``StackNotFound``...), else None."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def message(exc: BaseException) -> str:
    """The AWS error message of a refused call, else the exception's text, on one line."""
    if isinstance(exc, ClientError):
        return " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())
    return " ".join(str(exc).split())


def reason(exc: BaseException) -> str:
    """``Code: message`` of a refused call; ``ExceptionType: text`` of a call that failed to go.

    Either way a reader sees who said no and why, without the traceback.
    """
    text = message(exc)
    kind = code(exc) or ("Error" if isinstance(exc, ClientError) else type(exc).__name__)
    return f"{kind}: {text}" if text else kind
