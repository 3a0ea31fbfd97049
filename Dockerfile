# Multi-stage: node builds the web client, the Python image serves API + client.
FROM node:20-bookworm-slim AS web
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/data ENVIRONMENT=production
WORKDIR /app
# pg_dump/pg_restore for `chatapi backup` / `restore` against PostgreSQL.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini ./
COPY src/ src/
COPY alembic/ alembic/
RUN pip install --no-cache-dir -e .
COPY --from=web /app/web/dist web/dist
RUN useradd --system --home /data chatapi && mkdir -p /data && chown chatapi /data
USER chatapi
VOLUME /data
EXPOSE 8000
# Ready = the database answers and the media disk takes writes (GET /readyz).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["sh", "-c", "chatapi migrate && chatapi serve --host 0.0.0.0 --port 8000"]
