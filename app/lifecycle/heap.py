"""A worker's loaded heap, left out of the garbage collector's full collections.

CPython's full collection (generation 2) walks every object the collector tracks, holding the
GIL: in a gunicorn worker that is Flask, werkzeug and prometheus-client and, with tracing on,
OpenTelemetry's SDK and protobuf, whose objects live as long as the worker. Under load a full
collection ran every few seconds in each worker and took ~35-45 ms of CPU, a stall for every
request the worker was serving and longer than the service's p99; frozen, ~2-5 ms (``uv run
python -m bench.gc_pauses`` measures both, side by side). :func:`freeze` moves every object
tracked now to the permanent generation, which collections skip
(https://docs.python.org/3/library/gc.html#gc.freeze); objects made later are collected as
before.

Its price: garbage caught in a reference cycle at the moment of a freeze is never freed. A
worker freezes twice, both times once what it loaded is in place: after gunicorn has loaded the
app (app.gunicorn_conf ``post_worker_init``) and after tracing is installed (app.factory), so
what is left behind is a few objects, once.
"""

from __future__ import annotations

import gc


def freeze() -> int:
    """Leave every object tracked now out of future collections; how many are frozen in all."""
    gc.freeze()
    return gc.get_freeze_count()
