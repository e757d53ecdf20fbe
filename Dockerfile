# syntax=docker/dockerfile:1
# The GIF service: `python -m app serve` on port 8080, as uid 10001, read-only root fs.

# python:3.11-alpine pinned by the digest of its multi-arch index (linux/amd64 and
# linux/arm64). It was copied from a public `docker buildx` log that resolved the tag;
# no registry is reachable from where this file was written, so refresh it with
# `docker buildx imagetools inspect python:3.11-alpine` when bumping the base image.
ARG PYTHON_IMAGE=python:3.11-alpine@sha256:8b5bfdb1fd2d78aa94e21c4d61be52487693f54be7f1021647751ff365795703

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# Wheels only, checked against the lock's hashes: every locked dependency ships a
# musllinux wheel (tests/test_dockerfile.py), so nothing is compiled and no compiler is
# installed. The base image's pip installs into a venv that has no pip of its own.
COPY app/requirements.lock /tmp/requirements.lock
RUN python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-cache-dir --only-binary=:all: \
        --require-hashes -r /tmp/requirements.lock
COPY app /srv/app
# Bytecode is compiled here (at run time nothing may be written), checked by hash
# instead of file times, so the copies below stay valid whatever times they get.
RUN python -m compileall -q --invalidation-mode unchecked-hash /srv/app /opt/venv/lib

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    HOST=0.0.0.0 \
    PORT=8080
# Owned by root and read-only to the app's user, which owns nothing in the image.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/app /srv/app
WORKDIR /srv
USER 10001:10001
EXPOSE 8080
# No HEALTHCHECK: Kubernetes probes /healthz (liveness) and /gif (readiness) itself.
# Exec form, no shell: python is PID 1 and gets SIGTERM itself. No ENTRYPOINT, so a
# container's `args: ["python", "-m", "app", "migrate"]` replaces the whole command.
CMD ["python", "-m", "app", "serve"]
