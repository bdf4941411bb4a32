# One image for the worker and the API; docker-compose.yml picks the command
# (export-worker, export-api, export-topics, ...).
#
# The first stage builds the wheels of the client (the contract with other services) and of
# the service; the second installs the runtime dependencies, every one pinned by hash, then
# those two wheels, and runs as a user without privileges. No
# development tool (pytest, mypy, ruff, moto, ...) reaches the image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/build.lock requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/build.lock
COPY pyproject.toml README.md ./
COPY agents agents
COPY api api
COPY cli cli
COPY config config
COPY delivery delivery
COPY domain domain
COPY events events
COPY extraction extraction
COPY observability observability
COPY projections projections
COPY stores stores
COPY client client
RUN python -m build --wheel --no-isolation --outdir /dist client \
    && python -m build --wheel --no-isolation --outdir /dist .

FROM python:3.11-slim
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/runtime.lock && rm /tmp/runtime.lock
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && rm -r /tmp/dist
# The compose file's SFTP server and delivery setup: scripts of the demo stack, not the package.
COPY stack/sftp_server.py stack/delivery_setup.py stack/webhook_receiver.py /opt/export-stack/
RUN useradd --create-home --uid 10001 exporter \
    && mkdir -p /exports /worker /delivery /sftp \
    && chown exporter /exports /worker /delivery /sftp
USER exporter
WORKDIR /home/exporter
ENV PYTHONUNBUFFERED=1
# The API, and a worker's health and metrics.
EXPOSE 8080 8081
# Readiness, of the API by default; a worker sets EXPORT_HEALTH_URL to its own port's.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('EXPORT_HEALTH_URL', 'http://127.0.0.1:8080/readyz'), timeout=3)"]
CMD ["export-api", "--host", "0.0.0.0", "--port", "8080"]
