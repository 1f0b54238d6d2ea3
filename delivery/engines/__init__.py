"""The container engines: one class per engine CLI (docker, podman, buildah), and how one is chosen.

``detect.detect_engine`` picks the engine; ``base.ContainerEngine`` is the type callers hold.
"""
