# CustomerInfo 2.0 image: one image, three processes (web is the default; the Helm chart runs
# the Celery worker, Celery beat and the tenant-migration Job from the same image).

# uv is copied from its distroless image so the builder needs no pip install and no network
# besides the package index.
FROM ghcr.io/astral-sh/uv:0.13.8 AS uv

# ---------------------------------------------------------------------------------------------
# Builder: resolve the locked runtime dependencies into /app/.venv and collect static files.
# Same base image as the final stage, so the venv's interpreter symlink stays valid.
FROM python:3.11-slim-bookworm AS builder

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

# Static files are baked into the image and served by whitenoise. The settings need their
# required variables to import; none of these values is used to talk to anything.
RUN CUSTOMERINFO_ENV=production \
    SECRET_KEY=collectstatic-only \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    BASE_DOMAIN=example.com \
    /app/.venv/bin/python manage.py collectstatic --noinput

# ---------------------------------------------------------------------------------------------
# Final: the slim Python image plus the venv and the code. No uv, no compilers, no apt packages.
FROM python:3.11-slim-bookworm AS runtime

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
# the chart's /healthz and /readyz probes instead.
CMD ["gunicorn", "customerinfo.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
