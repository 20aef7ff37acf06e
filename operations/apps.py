from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Sentry first, so an error raised while the rest starts is already reported.
        from .error_reports import error_signals_connect
        from .sentry import sentry_init

        sentry_init()
        error_signals_connect()
