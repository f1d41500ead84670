# syntax=docker/dockerfile:1
# The .venv-ml services from requirements/ml.lock, one target each:
#   actions  the action server (with the search index models/kb)   docker/entrypoints/actions.sh
#   voice    the phone gateway, python -m voice                     docker/entrypoints/voice.sh
#   admin    the admin web app, python -m admin serve               docker/entrypoints/admin.sh
# Build from the repository root, after `make index`:
#   docker build -f docker/ml.Dockerfile --target actions -t tthc-actions .
# Each runs the same entry point scripts/prod_up.sh runs natively.
# PIP_EXTRA_INDEX_URL: a PyTorch CPU wheel index keeps the image small (the default index's
# torch==2.13.0 for Linux pulls the CUDA libraries); see docs/deploy.md.

FROM python:3.11-slim-bookworm AS build
ARG PIP_EXTRA_INDEX_URL=""
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc g++ pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/ml.lock /tmp/req/
RUN python -m venv /app/.venv-ml \
 && PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL" /app/.venv-ml/bin/pip install --no-cache-dir --progress-bar off -q \
      -r /tmp/req/ml.lock

FROM python:3.11-slim-bookworm AS base
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 tthc
COPY --from=build /app/.venv-ml /app/.venv-ml
COPY vntext/ /app/vntext/
COPY bot_payload.py /app/
COPY knowledge_base/ /app/knowledge_base/
COPY actions/ /app/actions/
COPY docker/entrypoints/ /app/docker/entrypoints/
ENV APP_DIR=/app KB_DATA_DIR=/app/models/kb
WORKDIR /app

FROM base AS actions
# the built index (models/kb/current and the directory it points to)
COPY --chown=tthc models/kb/ /app/models/kb/
USER tthc
ENV ACTIONS_HOST=0.0.0.0 ACTIONS_PORT=5055
EXPOSE 5055
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -sf http://127.0.0.1:${ACTIONS_PORT}/health || exit 1
ENTRYPOINT ["/app/docker/entrypoints/actions.sh"]

FROM base AS voice
# espeak-ng speaks the answers. The Vosk model (`make models`, docs/voice.md) is mounted at
# VOSK_MODEL_PATH (docker/compose.yml: volume "vosk"), not baked into the image.
USER root
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*
COPY voice/ /app/voice/
USER tthc
ENV VOICE_HOST=0.0.0.0 VOICE_PORT=8088 VOSK_MODEL_PATH=/app/models/vosk/vosk-model-small-vn-0.4
EXPOSE 8088
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -sf http://127.0.0.1:${VOICE_PORT}/healthz || exit 1
ENTRYPOINT ["/app/docker/entrypoints/voice.sh"]

FROM base AS admin
COPY admin/ /app/admin/
COPY --chown=tthc models/kb/ /app/models/kb/
USER tthc
ENV ADMIN_HOST=0.0.0.0 ADMIN_PORT=8090 ADMIN_COOKIE_SECURE=1
EXPOSE 8090
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -sf http://127.0.0.1:${ADMIN_PORT}/health || exit 1
ENTRYPOINT ["/app/docker/entrypoints/admin.sh"]
