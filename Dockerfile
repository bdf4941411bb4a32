# One image for the worker and the API (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.lock
COPY agents agents
COPY api api
COPY client client
COPY delivery delivery
COPY domain domain
COPY events events
COPY extraction extraction
COPY projections projections
COPY schemas schemas
COPY stores stores
COPY stack/sftp_server.py stack/delivery_setup.py stack/
RUN pip install --no-cache-dir --no-deps -e .
ENV PYTHONUNBUFFERED=1
