"""CustomerInfo 2.0: the project package (settings, URL confs, Celery app, health, logs)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
