"""Benchmark baseline: Flask's hello world, nothing else."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    """The canonical hello world."""
    return "Hello, world!"
