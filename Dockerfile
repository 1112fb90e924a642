# ioc — Intelligent Operations Centre: one image for every process
# (ioc web / ingest / alerts / db migrate / sim / users ...). See docs/production.md.
#
#   docker build -t ioc .
#   docker run --rm ioc ioc --help
#
# No secrets are baked in: every setting (IOC_DATABASE_URL, IOC_MQTT_URL, IOC_REDIS_URL,
# IOC_WEB_SECRET_KEY, ...) comes from the environment at run time (docker-compose.yml + .env).

# --- build: install the package and its dependencies into a virtualenv -----------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# The venv lives at the same path in both stages, so it can be copied as it is.
RUN python -m venv /opt/ioc
ENV PATH=/opt/ioc/bin:$PATH

WORKDIR /src
COPY . .
# psycopg[binary], shapely/pyproj/pyogrio (geopandas) ship manylinux wheels with their
# own libraries: no compiler, libpq or GDAL needed. gunicorn (a dependency) serves the
# Dash app (dashboards.wsgi:application) in production.
RUN pip install .

# --- runtime ---------------------------------------------------------------------------
FROM python:3.11-slim

ARG IOC_UID=10001
# fonts-dejavu-core: the Vietnamese letters of the KPI report's PDF (dashboards/kpi_report_pdf.py)
# and of the map's labels (dashboards/map_glyphs.py)
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid "${IOC_UID}" ioc \
 && useradd --system --uid "${IOC_UID}" --gid ioc --home-dir /home/ioc --create-home \
        --shell /usr/sbin/nologin ioc \
 && install -d -o ioc -g ioc -m 0750 /var/lib/ioc \
 && install -d -o ioc -g ioc -m 0700 /var/lib/ioc-evidence

COPY --from=build /opt/ioc /opt/ioc

# IOC_WEB_HOST: `ioc web` must listen on all interfaces to be reachable from outside
# the container (gunicorn, used by docker-compose.yml, has its own --bind).
ENV PATH=/opt/ioc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IOC_STATE_DIR=/var/lib/ioc \
    IOC_WEB_HOST=0.0.0.0

# Numeric, so orchestrators can verify the image does not run as root.
USER ${IOC_UID}:${IOC_UID}
WORKDIR /home/ioc

# 8050: web (Dash + /api/v1, health at /healthz); 9108: ingest Prometheus /metrics
EXPOSE 8050 9108

CMD ["ioc", "web"]
