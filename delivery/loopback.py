"""Plain HTTP GETs to servers this process started on 127.0.0.1 (the emulator, the service)."""

from __future__ import annotations

import urllib.error
import urllib.request


def get(url: str, timeout_s: float) -> tuple[int, bytes]:
    """``GET url``: (status, body), or (0, b"") when nothing answers; never raises.

    Only for the loopback URLs delivery builds itself, never for a caller's input.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback  # nosec B310
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""
