# syntax=docker/dockerfile:1
# The Rasa 3.6 server with the trained model (models/rasa/latest.tar.gz), from requirements/rasa.lock.
# Build from the repository root, after `make train` (and scripts/build_widget.sh):
#   docker build -f docker/rasa.Dockerfile -t tthc-rasa .
# Runs docker/entrypoints/rasa.sh, the same script scripts/prod_up.sh runs natively.

FROM node:20-bookworm-slim AS widget
WORKDIR /widget
COPY widget/package.json widget/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY widget/ ./
RUN npm run build

FROM python:3.11-slim-bookworm AS build
# matplotlib 3.5.3 (a Rasa 3.6 pin) has no cp311 wheel: built against Debian's freetype/qhull.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc g++ pkg-config \
      libfreetype-dev libqhull-dev && rm -rf /var/lib/apt/lists/*
COPY requirements/rasa.lock scripts/mplsetup.cfg /tmp/req/
# rasa and rasa-sdk declare Python <3.11; every other pin is exact (as scripts/setup_env.sh does).
RUN python -m venv /app/.venv-rasa \
 && MPLSETUPCFG=/tmp/req/mplsetup.cfg /app/.venv-rasa/bin/pip install --no-cache-dir --progress-bar off -q \
      --ignore-requires-python -r /tmp/req/rasa.lock \
 && /app/.venv-rasa/bin/pip check
# the model file that latest.tar.gz points to (a symlink in models/rasa/)
COPY models/rasa/ /tmp/models/
RUN cp -L /tmp/models/latest.tar.gz /tmp/model.tar.gz

FROM python:3.11-slim-bookworm
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libfreetype6 libqhull-r8.0 curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 tthc
COPY --from=build /app/.venv-rasa /app/.venv-rasa
COPY --from=build /tmp/model.tar.gz /app/models/rasa/latest.tar.gz
COPY vntext/ /app/vntext/
COPY bot_payload.py /app/
COPY --chown=tthc bot/ /app/bot/
COPY scripts/channel_env.txt /app/scripts/
COPY --from=widget /widget/dist/ /app/widget/dist/
COPY docker/entrypoints/ /app/docker/entrypoints/
USER tthc
WORKDIR /app/bot
ENV APP_DIR=/app RASA_HOST=0.0.0.0 RASA_PORT=5005
EXPOSE 5005
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD curl -sf http://127.0.0.1:${RASA_PORT}/webhooks/rest/ || exit 1
ENTRYPOINT ["/app/docker/entrypoints/rasa.sh"]
