# rei-sync worker image: slim Python, non-root, the package with the Supabase extra.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REI_SYNC_HOME=/home/reisync/.rei-sync

RUN useradd --create-home --uid 10001 reisync
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY worker ./worker
COPY migrations ./migrations
RUN pip install '.[supabase]'

USER reisync
ENTRYPOINT ["rei-sync"]
CMD ["sync"]
