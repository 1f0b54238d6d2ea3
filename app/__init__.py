"""flask-fargate: the reference Flask service.

The package root stays import-light on purpose: gunicorn imports ``app.gunicorn_conf`` (and so this
module) in the master *before* it has pointed prometheus-client at the multiprocess directory, so
nothing here may import Flask or prometheus-client. The factory lives in :mod:`app.factory`.
"""
