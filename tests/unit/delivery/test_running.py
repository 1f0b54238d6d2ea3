"""A service stack's parameters say what runs: the image and its version, or nothing yet."""

from __future__ import annotations

from delivery import running

IMAGE = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate@sha256:" + "a" * 64


def test_the_parameters_name_the_image_and_version() -> None:
    live = running.from_parameters({"ImageUri": IMAGE, "AppVersion": "1.4.2", "VpcId": "vpc-1"})
    assert live == running.Running(image_uri=IMAGE, version="1.4.2")
    assert live.parameters() == {"ImageUri": IMAGE, "AppVersion": "1.4.2"}


def test_no_image_means_nothing_runs_yet() -> None:
    assert running.from_parameters({"AppVersion": "1.4.2"}) is None
    assert running.from_parameters({"ImageUri": "", "AppVersion": ""}) is None
