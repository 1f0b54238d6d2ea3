"""The library behind tasks.py: image, versions, registry, stacks, deploys and the local emulator.

This package is the only place that talks to AWS APIs, container engines and git.
"""
