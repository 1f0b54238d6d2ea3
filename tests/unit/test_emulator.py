"""The emulator's lifecycle: it starts, answers, resets, refuses a taken port and stops cleanly."""

from __future__ import annotations

import socket
import sys

import boto3
import pytest

from delivery.emulator import HOST, Emulator, port_in_use
from delivery.errors import DeliveryError


def test_emulator_serves_aws_apis_and_reset_wipes_state(aws: Emulator) -> None:
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="probe")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["probe"]
    aws.reset()
    assert ecr.describe_repositories()["repositories"] == []


def test_taken_port_is_a_one_line_error_and_nothing_starts() -> None:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen()
        port = sock.getsockname()[1]
        emulator = Emulator(port=port)
        with pytest.raises(DeliveryError, match=rf"port {port} .* already in use") as info:
            emulator.start()
        assert "\n" not in str(info.value)
        assert emulator._process is None


def test_server_that_dies_at_start_is_reported_and_cleaned_up() -> None:
    emulator = Emulator(command=[sys.executable, "-c", "raise SystemExit('boom')"])
    with pytest.raises(DeliveryError, match=r"emulator failed to start \(exit 1\): boom"):
        emulator.start()
    assert emulator._log is None


def test_stop_frees_the_port() -> None:
    emulator = Emulator().start()
    port = emulator.port
    assert port_in_use(port)
    emulator.stop()
    assert not port_in_use(port)
