# syntax=docker/dockerfile:1
# Not built in CI (no Docker engine there); kept correct by reading. See docs/decisions.md.

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md alembic.ini ./
COPY domain ./domain
COPY bot ./bot
COPY migrations ./migrations
COPY locales ./locales
RUN python -m venv /opt/venv && /opt/venv/bin/pip install '.[redis]'
# The wheel installs the .po catalogs under /opt/venv/share/motriforge/locales; the bot
# compiles them in memory when it starts (never a stale .mo; docs/decisions.md).

FROM python:3.12-slim AS runtime
RUN useradd --create-home --uid 10001 motriforge
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 MOTRIFORGE_DATA_DIR=/home/motriforge/data
COPY --from=build /opt/venv /opt/venv
COPY --chown=motriforge alembic.ini /app/
WORKDIR /app
USER motriforge
CMD ["motriforge", "run"]
