# The ITOM portal image: one image for every role (web, worker, beat, migrate).
# docker-compose.yml picks the role with `command:`; the default is the web server.
# docs/operations.md explains the environment it reads.
FROM python:3.11-slim

# gunicorn reads WEB_CONCURRENCY as its number of worker processes; override it at run time.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=2

# A fixed, unprivileged account that the portal runs as.
RUN groupadd --system --gid 10001 itom \
    && useradd --system --uid 10001 --gid itom --home-dir /app --no-create-home --shell /usr/sbin/nologin itom

WORKDIR /app

# Dependencies first, so changing the code does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Collect static files into the image (whitenoise serves them from /app/var/static).
# The key and URLs below exist only for this one command and are not kept in the image;
# none of them is connected to.
RUN SECRET_KEY=collectstatic-only-not-a-secret \
    DATABASE_URL=sqlite://:memory: \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var/media \
    && chown itom:itom /app/var /app/var/media

# Static files and code stay owned by root (read-only to the portal); only var/ is writable.
USER itom

EXPOSE 8000

CMD ["gunicorn", "itom.wsgi", "--bind", "0.0.0.0:8000", "--threads", "4", "--access-logfile", "-"]
