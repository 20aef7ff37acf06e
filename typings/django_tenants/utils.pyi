from contextlib import ContextDecorator
from types import TracebackType

from django.db.models import Model

def get_public_schema_name() -> str: ...
def schema_exists(schema_name: str, database: str = ..., case_sensitive: bool = ...) -> bool: ...

class schema_context(ContextDecorator):  # noqa: N801
    def __init__(self, schema_name: str, database: str = ...) -> None: ...
    def __enter__(self) -> None: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

class tenant_context(ContextDecorator):  # noqa: N801
    def __init__(self, tenant: Model, database: str = ...) -> None: ...
    def __enter__(self) -> None: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
