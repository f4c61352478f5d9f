# rei-sync worker image: slim Python, non-root, the package with the Supabase extra.
# `docker run IMAGE` runs the daemon (`rei-sync run`); any other command works too,
# e.g. `docker run IMAGE backfill --brand AZURA`.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REI_SYNC_HOME=/home/reisync/.rei-sync \
    HEALTH_BIND=0.0.0.0 \
    HEALTH_PORT=9108

RUN useradd --create-home --uid 10001 reisync
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY worker ./worker
COPY migrations ./migrations
RUN pip install '.[supabase]'

USER reisync
EXPOSE 9108
# The daemon answers /healthz while its scheduler runs; stdlib only, no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '9108'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rei-sync"]
CMD ["run"]
