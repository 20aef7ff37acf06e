"""Logs: one JSON object a line, carrying the request id and the tenant's schema."""

from .environment import env

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT: str = env.str("LOG_FORMAT", default="json")
#: Celery's own per-task lines ("received", "succeeded in", beat's "sending due task"). The CRM
#: relay runs twice a second, so at INFO they would be some 500,000 lines a day of nothing
#: happening, and bury make run's terminal; failures are logged at ERROR whatever this says.
#: Not CELERY_LOG_LEVEL: Celery's worker writes that variable itself, as a number ("40"),
#: which logging's configuration refuses, and the worker would die at start-up.
TASK_LOG_LEVEL: str = env.str("TASK_LOG_LEVEL", default="WARNING")
#: The stripe library logs two INFO lines for every API call (the URL, then the status): the
#: billing services log what they did themselves, and make run's start (the catalogue sync)
#: buried its "where to click" under them. Its errors are raised, not only logged.
STRIPE_LOG_LEVEL: str = env.str("STRIPE_LOG_LEVEL", default="WARNING")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "customerinfo.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "customerinfo.logs.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s [%(schema)s %(request_id)s] %(name)s: %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "INFO"},
        "celery.app.trace": {"level": TASK_LOG_LEVEL},
        "celery.worker.strategy": {"level": TASK_LOG_LEVEL},
        "celery.beat": {"level": TASK_LOG_LEVEL},
        "stripe": {"level": STRIPE_LOG_LEVEL},
    },
}
