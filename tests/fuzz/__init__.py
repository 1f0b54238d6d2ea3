"""Fuzzing and hostile input against the real service under gunicorn."""
