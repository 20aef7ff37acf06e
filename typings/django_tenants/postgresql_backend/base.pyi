from typing import Any

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper

class DatabaseWrapper(PostgresDatabaseWrapper):
    search_path_set_schemas: list[str] | None
    schema_name: str | None
    def _handle_search_path(self, cursor: Any = None) -> None: ...
