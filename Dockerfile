# rei-sync worker image: slim Python, non-root, exactly the locked dependencies.
# `docker run IMAGE` runs the daemon (`rei-sync run`); any other command works too,
# e.g. `docker run IMAGE backfill --brand AZURA`.
#
# Reproducible: the base image is pinned by digest (python:3.12-slim; refresh the digest
# with `docker buildx imagetools inspect python:3.12-slim`), and every dependency comes from
# requirements.lock (`make lock`) with its hashes. The embedded Postgres (the `embedded`
# extra) is not in the image: it needs DATABASE_URL.
FROM python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_ARENA_MAX=2 \
    HEALTH_BIND=0.0.0.0 \
    HEALTH_PORT=9108

RUN useradd --create-home --uid 10001 reisync
WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY worker ./worker
COPY migrations ./migrations
RUN pip install --no-deps --no-build-isolation . && rm -rf build ./*.egg-info

USER 10001:10001
EXPOSE 9108
# The daemon answers /healthz while its scheduler runs; stdlib only, no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '9108'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rei-sync"]
CMD ["run"]
