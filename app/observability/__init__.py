"""Request ids, JSON logs, Prometheus metrics and the WSGI middleware that ties them together."""
