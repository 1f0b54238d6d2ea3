"""Declared secrets, the pins a deploy keeps, and how `secret set` reads a value."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from delivery import environments, secret_command, secrets, stacks
from delivery.errors import DeliveryError
from delivery.stacks import StackState
from tests.support.project import make_project

ID_A = "0b6c8a2e-4f1d-4c1e-9a55-111111111111"
ID_B = "7d1e2f3a-5b6c-4d7e-8f90-222222222222"


def project(tmp_path: Path, names: list[str]) -> environments.Environment:
    """The sample project, its local service declaring ``names`` in that order."""
    root = make_project(tmp_path)
    declared = "".join(f"    - name: {name}\n      description: {name.lower()}\n" for name in names)
    config = root / "config" / "local" / "service.yaml"
    config.write_text(config.read_text() + "sceptre_user_data:\n  secrets:\n" + declared)
    return environments.load("local", root)


def live(monkeypatch: pytest.MonkeyPatch, status: str, parameters: dict[str, str]) -> None:
    """The service stack as the deploy would read it."""
    monkeypatch.setattr(stacks, "state", lambda stack, cfn=None: StackState(stack.name, status))
    monkeypatch.setattr(stacks, "parameters", lambda stack, cfn=None: parameters)


def test_a_deploy_keeps_each_live_pin_across_a_reordered_and_grown_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = project(tmp_path, ["API_TOKEN", "NEW_ONE", "DATABASE_PASSWORD"])
    live(
        monkeypatch,
        "UPDATE_COMPLETE",
        {"SecretVersions": f"DATABASE_PASSWORD={ID_A},API_TOKEN={ID_B}"},
    )
    assert secrets.versions_variable(env, {}) == (
        f"API_TOKEN={ID_B},NEW_ONE=,DATABASE_PASSWORD={ID_A}"
    )
    assert secrets.unpinned(env, secrets.versions_variable(env, {})) == ["NEW_ONE"]
    # secret set: one pin moves, the others stay.
    assert secrets.versions_variable(env, {"NEW_ONE": ID_A}) == (
        f"API_TOKEN={ID_B},NEW_ONE={ID_A},DATABASE_PASSWORD={ID_A}"
    )


def test_a_first_create_pins_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = project(tmp_path, ["API_TOKEN"])
    live(monkeypatch, "NOT_CREATED", {})
    assert secrets.versions_variable(env, {}) == ""
    assert secrets.unpinned(env, "") == ["API_TOKEN"]


def test_only_declared_secrets_can_be_pinned_or_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = project(tmp_path, ["API_TOKEN"])
    live(monkeypatch, "NOT_CREATED", {})
    with pytest.raises(DeliveryError, match="cannot pin undeclared secret OTHER"):
        secrets.versions_variable(env, {"OTHER": ID_A})
    with pytest.raises(DeliveryError, match=r"'OTHER' is not declared .* \(declared: API_TOKEN\)"):
        secrets.find(env, "OTHER")


def test_a_malformed_declaration_is_one_line(tmp_path: Path) -> None:
    env = project(tmp_path, ["lower_case"])
    with pytest.raises(DeliveryError, match=r"^config/local/service.yaml: secrets are malformed"):
        secrets.declared(env)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("piped", "value"),
    [
        ("s3cret\n", "s3cret"),  # echo's newline is not part of it
        ("s3cret\r\n", "s3cret"),
        ("two\nlines\n", "two\nlines"),
        (" spaced ", " spaced "),
    ],
)
def test_a_piped_value_is_read_whole(piped: str, value: str) -> None:
    assert secret_command.read_value(io.StringIO(piped), "API_TOKEN") == value


@pytest.mark.parametrize("piped", ["", "\n", "  \n"])
def test_an_empty_value_is_refused(piped: str) -> None:
    with pytest.raises(DeliveryError, match=r"^empty value for secret API_TOKEN"):
        secret_command.read_value(io.StringIO(piped), "API_TOKEN")


def test_a_terminal_is_asked_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def getpass(prompt: str, stream: object = None) -> str:
        asked.append(prompt)
        return "typed"

    monkeypatch.setattr("getpass.getpass", getpass)
    assert secret_command.read_value(Terminal("never read"), "API_TOKEN") == "typed"
    assert asked == ["value of API_TOKEN (not echoed): "]
