"""The local session's own logic, without an emulator: the record, endpoints, template values."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from delivery.environments import load
from delivery.errors import DeliveryError
from delivery.local.record import (
    Record,
    clear_record,
    read_record,
    record_alive,
    state_path,
    write_record,
)
from delivery.local.runner import LocalService
from delivery.local.session import Session
from delivery.local.session import session as local_session
from delivery.local.task_definition import resolve
from tests.support.project import make_project


def test_the_record_round_trips_and_garbage_reads_as_none(tmp_path: Path) -> None:
    env = load("local", make_project(tmp_path))
    service = LocalService("container", "c0ffee", 8123, "1.2.3", "flask-fargate:1.2.3", "podman")
    record = Record("http://127.0.0.1:5000", "eu-north-1", 4321, "/tmp/moto.log", service)
    write_record(env, record)
    assert state_path(env) == tmp_path / ".local" / "emulator.json"
    assert read_record(env) == record
    assert service.url == "http://127.0.0.1:8123"
    state_path(env).write_text("{not json")
    assert read_record(env) is None
    clear_record(env)
    clear_record(env)  # absent is fine
    assert read_record(env) is None


def test_a_record_whose_port_nobody_answers_is_not_alive() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not record_alive(Record(f"http://127.0.0.1:{port}", "eu-north-1", None))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", "5"),
        (8000, "8000"),
        ({"Ref": "AppVersion"}, "1.2.3"),
        ({"Ref": "LogGroup"}, None),  # a resource: only AWS knows its value
        ({"Fn::Sub": "${AWS::Region}"}, None),
    ],
)
def test_template_values_resolve_literals_and_parameter_refs(
    value: object, expected: str | None
) -> None:
    assert resolve(value, {"AppVersion": "1.2.3"}) == expected


PINNED = {
    "Fn::Select": [1, {"Fn::Split": ["=", {"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "V"}]}]}]}]
}


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ("", "arn:s"),  # the condition holds: the bare ARN
        ("A=,B=id-b", "arn:s:::id-b"),
        ("A=id-a,B=", "arn:s:::"),  # Fn::Split keeps the empty field
    ],
)
def test_the_functions_a_pinned_secret_uses_evaluate_as_cloudformation_does(
    versions: str, expected: str
) -> None:
    value = {
        "Fn::If": ["Unpinned", {"Ref": "S"}, {"Fn::Join": ["", [{"Ref": "S"}, ":::", PINNED]]}]
    }
    conditions = {"Unpinned": {"Fn::Equals": [{"Ref": "V"}, ""]}}
    assert resolve(value, {"S": "arn:s", "V": versions}, conditions) == expected
    assert resolve(value, {"S": "arn:s", "V": versions}) is None  # an unknown condition


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("https://ecs.eu-north-1.amazonaws.com", "runs on the local emulator but AWS_ENDPOINT_URL"),
        ("http://127.0.0.1:1", "AWS_ENDPOINT_URL http://127.0.0.1:1 does not answer"),
    ],
)
def test_an_ambient_endpoint_must_be_loopback_and_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str, message: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    env = load("local", make_project(tmp_path))
    with pytest.raises(DeliveryError, match=message) as info, local_session(env):
        pass
    assert "\n" not in str(info.value)


def test_nothing_kept_and_start_not_allowed_is_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    env = load("local", make_project(tmp_path))
    with pytest.raises(DeliveryError) as info, local_session(env, start=False):
        pass
    assert str(info.value) == (
        "no local emulator running: run `invoke deploy --env local --keep` first"
    )


def test_kept_means_asked_for_or_kept_earlier(tmp_path: Path) -> None:
    env = load("local", make_project(tmp_path))
    assert Session(env, keep=True).kept
    assert not Session(env).kept
