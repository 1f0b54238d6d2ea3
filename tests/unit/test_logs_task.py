"""``invoke logs``: options reach delivery as given, and Ctrl-C ends a follow with status 130."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

import tasks
from delivery import logs
from delivery.log_records import Selection


def test_ctrl_c_ends_a_follow_cleanly_with_status_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: dict[str, Any] = {}

    def lines(env: str, chosen: logs.Query, root: object, **options: Any) -> Iterator[str]:
        asked.update(env=env, query=chosen, **options)
        yield "first line"
        raise KeyboardInterrupt

    monkeypatch.setattr(logs, "lines", lines)
    with pytest.raises(Exit) as info:
        tasks.logs(Context(), env="dev", follow=True, level="error", request_id="r-1")
    assert info.value.code == 130
    assert capsys.readouterr().out == "first line\n"
    assert asked["env"] == "dev"
    assert asked["following"] is True
    assert asked["before_poll"] is None  # dev is no emulator env: nothing to ship
    assert asked["query"].selection == Selection(request_id="r-1", level="ERROR")
