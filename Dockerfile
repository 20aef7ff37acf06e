# CustomerInfo 2.0 image: one image, three processes (web is the default; the Helm chart runs
# the Celery worker, Celery beat and the tenant-migration Job from the same image).
#
# Base images are pinned by tag and digest: the digest makes every rebuild start from the same
# bytes, the tag says what they are. Renovate (renovate.json) moves both together.

# uv is copied from its distroless image so the builder needs no pip install and no network
# besides the package index.
FROM ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168 AS uv

# One pinned base for the builder and the final stage: the venv's interpreter symlink, made in
# the builder, must find the very same interpreter in the final image.
FROM python:3.11-slim-bookworm@sha256:528257d48c1da0dcecc2e725d1ae34498d60c965f1241e39cd6a85a8859bdf84 AS base

# ---------------------------------------------------------------------------------------------
# Builder: resolve the locked runtime dependencies into /app/.venv and collect static files.
FROM base AS builder

COPY --from=uv /uv /uvx /bin/

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes, not on every commit.
# No BuildKit cache mount, so the file also builds with the classic builder.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev

COPY . .

# Static files are baked into the image and served by whitenoise from production's manifest
# storage. The image is built without runtime secrets: CUSTOMERINFO_BUILD=1 lets the production
# settings import without them for `manage.py collectstatic` alone (the settings refuse it for
# any other command), and it is set on this command only, never in the image's environment.
RUN CUSTOMERINFO_ENV=production CUSTOMERINFO_BUILD=1 \
    /app/.venv/bin/python manage.py collectstatic --noinput

# ---------------------------------------------------------------------------------------------
# Final: the slim Python image plus the venv, the code and PostgreSQL's client tools. No uv, no
# compilers, no package lists.
FROM base AS runtime

# pg_dump and pg_restore for the backup CronJobs (manage.py backup_create / backup_verify).
# pg_dump refuses a server newer than itself: the major, 15 (Debian bookworm's, the database
# servers' major), is pinned by the package's name and its version pattern; the rest follows
# Debian's security updates, which replace the exact version. No recommends and no package
# lists left in the layer: about 60 MB, three quarters of it the Perl that Debian's pg_wrapper
# (/usr/bin/pg_dump) needs. The one image for every process is worth that.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       "postgresql-client-15=15.*" \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric UID lets Kubernetes verify runAsNonRoot without resolving names.
RUN groupadd --system --gid 10001 customerinfo \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin customerinfo

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/app/.venv/bin:${PATH}" \
    CUSTOMERINFO_ENV=production \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Owned by root and read-only for the app user: the running process cannot rewrite its own code.
COPY --from=builder /app /app

USER 10001:10001

EXPOSE 8000

# No HEALTHCHECK: the same image runs the worker and beat, which serve no HTTP; Kubernetes uses
# the chart's /healthz and /readyz probes instead. The gunicorn config writes access and error
# lines as the application's JSON logs.
CMD ["gunicorn", "customerinfo.wsgi:application", "--config", "python:customerinfo.gunicorn_config", "--bind", "0.0.0.0:8000", "--workers", "3"]
