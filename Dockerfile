# One image recipe for the four Tongpin services. Build from the repository root (the uv workspace),
# naming the service and its port:
#   docker build --build-arg SERVICE=intake --build-arg PORT=8101 -t tongpin-intake .
# (triage 8102, counselling 8103, oversight 8104). The image of triage also trains its packaged model.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# Same uv as the one that wrote uv.lock, so `--frozen` reads it exactly as CI does.
ARG UV_VERSION=0.13.9
ARG SERVICE
RUN case "${SERVICE}" in intake|triage|counselling|oversight) ;; \
      *) echo "build with --build-arg SERVICE=intake|triage|counselling|oversight (got '${SERVICE}')" >&2; exit 1 ;; \
    esac
# No BuildKit-only syntax (cache mounts, heredocs): docker-compose v1 and the legacy builder
# must build this file too. UV_NO_CACHE keeps downloaded wheels out of the layers instead.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install "uv==${UV_VERSION}"
WORKDIR /src

# Third-party dependencies first, from the lockfile and the members' pyproject files only, so this
# layer is rebuilt when dependencies change, not on every source edit.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/pyproject.toml
COPY services/intake/pyproject.toml services/intake/pyproject.toml
COPY services/triage/pyproject.toml services/triage/pyproject.toml
COPY services/counselling/pyproject.toml services/counselling/pyproject.toml
COPY services/oversight/pyproject.toml services/oversight/pyproject.toml
RUN uv sync --frozen --no-dev --package "tongpin-${SERVICE}" --no-install-workspace

# Then the workspace itself, installed non-editable so the runtime image needs only the venv.
COPY shared/ shared/
COPY services/ services/
RUN uv sync --frozen --no-dev --package "tongpin-${SERVICE}" --no-editable
# Triage's packaged model, trained from the corpus the repository ships (fixed seed: the same bytes every build).
RUN if [ "${SERVICE}" = triage ]; then \
      /app/.venv/bin/python -m tongpin.triage.train --corpus services/triage/eval/labelled.jsonl; \
    fi
# The service's own entry point under one name, so the runtime stage's CMD needs no shell.
RUN ln -s "tongpin-${SERVICE}" /app/.venv/bin/tongpin-service


FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG PORT=8100
RUN groupadd --system --gid 10001 tongpin \
    && useradd --system --uid 10001 --gid tongpin --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tongpin
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TONGPIN_SERVICE_NAME=${SERVICE} \
    TONGPIN_HOST=0.0.0.0 \
    TONGPIN_PORT=${PORT}
WORKDIR /app
# Numeric uid so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE ${PORT}
# urllib raises on connection errors and non-2xx answers, so the exit status is the health.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['TONGPIN_PORT'], timeout=3)"]
CMD ["tongpin-service"]
