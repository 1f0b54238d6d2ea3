# syntax=docker/dockerfile:1
# The service's image: a virtualenv with the locked runtime dependencies, plus app/. Nothing else.
#
# Works two ways, the same Dockerfile:
# - standalone (`docker build .` with internet): the build stage installs the dependencies pinned in
#   uv.lock from PyPI, hash-checked;
# - offline (`invoke build` / delivery.image_build.build_image, built with --network none): the host
#   has downloaded the same wheels into build/wheels/ (with requirements.txt exported from uv.lock);
#   the build stage installs only those, hash-checked, with no index at all.
# The base is a build argument so machines without a registry can pass a local Debian base
# (delivery/localbase.py). The default is the official image from its ECR Public mirror (Docker
# Hub's anonymous pull limit hits CodeBuild's shared addresses), fully qualified so engines that
# refuse short names resolve it too, and pinned by digest: a rebuild of a commit starts from the
# same bytes. The tag stays in the reference for Renovate/Dependabot; engines pull by the digest.
# delivery.image_build.DEFAULT_BASE_IMAGE holds the same value (a test keeps them equal).
ARG BASE_IMAGE=public.ecr.aws/docker/library/python:3.11-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
# checkov:skip=CKV_DOCKER_7:the base is this build argument, whose default is the digest-pinned tag above; checkov cannot resolve ARG values and reads it as untagged

FROM ${BASE_IMAGE} AS build
# uv only exports uv.lock to a requirements file on the standalone path; pinned like everything else.
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/sh", "-eu", "-c"]
WORKDIR /src
# build/wheel[s] matches nothing when the host prepared no wheels: then the standalone path runs.
# (A glob, not a bind mount: buildah reuses stale cached layers when a bind-mounted input changes.)
COPY pyproject.toml uv.lock build/wheel[s] /src/
# The venv's own pip installs the wheels and then removes itself and setuptools (its venv seed), so
# the copied venv holds the service's dependencies only. Test suites and the bytecode some wheels
# ship go too.
RUN python3 -m venv /opt/venv \
    && if [ -f /src/requirements.txt ]; then \
         echo "installing from the host-prepared wheels (offline)"; \
         sha256sum -c --status uv.lock.sha256 \
           || { echo "build/wheels is stale for this uv.lock: prepare the wheels again" >&2; exit 1; }; \
         /opt/venv/bin/pip install --no-cache-dir --no-compile \
           --no-index --find-links /src --only-binary=:all: --require-hashes -r /src/requirements.txt; \
       else \
         echo "no build/wheels: installing the locked dependencies from PyPI"; \
         python3 -m venv /opt/uv; \
         /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"; \
         /opt/uv/bin/uv export --frozen --no-dev --no-default-groups --no-emit-project \
           --output-file /src/requirements.txt >/dev/null; \
         /opt/venv/bin/pip install --no-cache-dir --no-compile \
           --only-binary=:all: --require-hashes -r /src/requirements.txt; \
       fi \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv \( -name __pycache__ -o -name tests -o -name test \) -type d -prune \
         -exec rm -rf {} + \
    && find /opt/venv -name '*.py[co]' -delete

# Bytecode compiled once here, because the read-only root filesystem means Python could never write
# it: without it every process (gunicorn master, each worker, each HEALTHCHECK) recompiles in memory,
# measured 0.7-1.1 s instead of 0.3 s to import the stack, for 4-5 MB more image. unchecked-hash: the
# .pyc files stay valid whatever the files' timestamps become in later COPY steps. Byte-identical
# on every build: a fixed hash seed (set constants are written in hash order) and one process (how
# marshal flags shared objects depends on what that process compiled before).
COPY app/ /srv/app/
RUN PYTHONHASHSEED=0 python3 -m compileall -q --invalidation-mode unchecked-hash /opt/venv/lib /srv/app

FROM ${BASE_IMAGE} AS runtime
# A fixed, high uid/gid that clashes with no base image user; -l (no lastlog entry) keeps a huge
# sparse /var/log/lastlog out of the layer. useradd writes the day of the build into /etc/shadow
# (last password change), which alone gave every day's build a new digest: the account has no
# password, so aging is switched off (an empty field) and the shadow backup holding the dated line
# goes. Pip, setuptools and wheel are removed from the base's own Python too (the public base ships
# them; the local Debian base has none), so nothing in the image can install packages at run time;
# without writing bytecode for the interpreter that runs pip (it would differ between builds).
# /tmp stays the world-writable sticky directory the VOLUME below hands to Fargate.
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app --no-create-home \
         --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && chage --lastday -1 app \
    && rm -f /etc/shadow- \
    && if PYTHONDONTWRITEBYTECODE=1 python3 -m pip --version >/dev/null 2>&1; then \
         PYTHONDONTWRITEBYTECODE=1 python3 -m pip uninstall --yes --quiet pip setuptools wheel; \
       fi \
    && rm -rf /usr/share/python-wheels /root/.cache \
    && chmod 1777 /tmp

COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY --from=build /srv/app /srv/app

# Runtime settings that never change between builds come before the per-build metadata, so a new
# version re-uses every layer above.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# The task definition mounts an empty volume at /tmp (the only writable path on a read-only root).
# On Fargate that is a bind mount owned by root, mode 0755 (uid 10001 could not create
# /tmp/prometheus there), unless the image declares a VOLUME at the same path: then ECS copies the
# image's /tmp, 1777, into it. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
VOLUME /tmp
USER 10001:10001
EXPOSE 8000
# gunicorn drains on SIGTERM (readiness 503 for DRAIN_SECONDS, then a graceful stop); ECS sends it too.
STOPSIGNAL SIGTERM
# urllib from the venv's Python: no curl in the image. Kept only by docker-format images
# (podman/buildah build --format docker).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]

# The image is its commit: the same bits whatever version the commit is released as, so a
# release promotes the digest main's build already pushed and tested (the version is a tag on it,
# and the task definition's APP_VERSION). Hence no version here: with one, a release build of
# the commit would be another image than the one tested.
ARG GIT_SHA=unknown
ARG BUILD_TIME=unknown
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.title="flask-fargate" \
      org.opencontainers.image.description="Reference Flask service for ECS Fargate" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.created="${BUILD_TIME}"
# /version reports these, and APP_VERSION from the task definition (the deploy sets it).
ENV GIT_SHA=${GIT_SHA} \
    BUILD_TIME=${BUILD_TIME}

CMD ["gunicorn", "--config", "python:app.gunicorn_conf", "app.wsgi:app"]
