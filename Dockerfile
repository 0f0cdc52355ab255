# syntax=docker/dockerfile:1
# fleethub application image: `fleethub run` (the hub), `fleethub web` (the
# panel), `fleethub migrate` (schema migrations). See docker-compose.yml.

# --- build: install the project and its dependencies into a venv -----------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README.md* : the readme named in pyproject.toml, copied when it exists.
COPY pyproject.toml README.md* ./
COPY hub/ hub/
COPY actors/ actors/
COPY contract/ contract/
COPY web/ web/
COPY broker/ broker/
COPY config/ config/
RUN pip install .

# --- runtime: the venv only, run as an unprivileged user --------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FLEETHUB_VAR_DIR=/var/lib/fleethub/var

RUN groupadd --system --gid 10001 fleethub \
    && useradd --system --uid 10001 --gid fleethub \
        --home-dir /var/lib/fleethub --create-home --shell /usr/sbin/nologin fleethub

COPY --from=build /opt/venv /opt/venv

# Numeric, so runtimes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/fleethub

# The panel's port when run with `fleethub web` (FLEETHUB_WEB_PORT).
EXPOSE 8080

ENTRYPOINT ["fleethub"]
CMD ["run"]
