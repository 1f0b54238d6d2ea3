"""A worker's loaded heap is left out of full collections: after gunicorn loads the app, and
again once tracing is installed (app.lifecycle.heap).

Each case runs in a fresh interpreter: a freeze is for the life of the process, and this one's
heap is pytest's. "Frozen" is read from the collector itself: ``gc.get_objects()`` lists the
objects collections look at, and the permanent generation is not among them.
"""

from __future__ import annotations

import json

from tests.support.fresh_python import run_python

# The fresh interpreter prints, as JSON after "seen", whether each named object is still among
# the objects the collector walks (the app's log lines go to stdout too).
_SEEN = """
import gc, json
def seen(**named):
    walked = {id(o) for o in gc.get_objects()}
    print("seen", json.dumps({name: id(obj) in walked for name, obj in named.items()}))
"""


def _run(code: str) -> list[dict[str, bool]]:
    lines = run_python(_SEEN + code).splitlines()
    return [json.loads(line.removeprefix("seen ")) for line in lines if line.startswith("seen ")]


def test_a_freeze_leaves_what_is_loaded_out_of_collections_and_later_objects_in() -> None:
    before, after = _run(
        """
import flask
from app.lifecycle import heap
seen(flask_class=flask.Flask)
frozen = heap.freeze()
later = [[]]
assert frozen == gc.get_freeze_count() > 1000, frozen
seen(flask_class=flask.Flask, later=later)
"""
    )
    assert before == {"flask_class": True}
    assert after == {"flask_class": False, "later": True}


def test_gunicorn_runs_the_hook_that_freezes_the_loaded_app() -> None:
    # Loaded as gunicorn loads the module (its settings registry): a hook under any other name
    # would be ignored without a word.
    (after,) = _run(
        """
import importlib
from gunicorn.config import Config
module = importlib.import_module("app.gunicorn_conf")
config = Config()
for name, value in vars(module).items():
    if name in config.settings:
        config.set(name, value)
import flask
config.post_worker_init(None)
seen(flask_class=flask.Flask)
"""
    )
    assert after == {"flask_class": False}


def test_under_gunicorn_what_tracing_loads_is_frozen_once_it_is_installed() -> None:
    (after,) = _run(
        """
from dataclasses import replace
from app.config import AppConfig, TracingConfig
from app.factory import create_app
app = create_app(
    replace(AppConfig(), tracing=TracingConfig(endpoint="http://127.0.0.1:9")),
    defer_tracing=True,
)
assert app.extensions["flask_fargate"]["tracing_installed"].wait(10)
from opentelemetry.sdk.trace import TracerProvider
provider = app.extensions["flask_fargate"]["tracer_provider"]
seen(sdk_class=TracerProvider, provider=provider)
"""
    )
    assert after == {"sdk_class": False, "provider": False}


def test_in_process_tracing_freezes_nothing() -> None:
    # Tests and tools build the app in their own process: its heap is theirs to manage.
    (after,) = _run(
        """
from dataclasses import replace
from app.config import AppConfig, TracingConfig
from app.factory import create_app
app = create_app(replace(AppConfig(), tracing=TracingConfig(endpoint="http://127.0.0.1:9")))
from opentelemetry.sdk.trace import TracerProvider
assert gc.get_freeze_count() == 0
seen(sdk_class=TracerProvider)
"""
    )
    assert after == {"sdk_class": True}
