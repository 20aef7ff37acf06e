# The part of jsonschema the CRM fakes use (tests/crm_sync/fakes/schemas.py); it ships no types.
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

class ValidationError(Exception):
    message: str
    path: deque[str | int]

class FormatChecker: ...

class Draft202012Validator:
    FORMAT_CHECKER: ClassVar[FormatChecker]
    def __init__(
        self, schema: Mapping[str, Any], *, format_checker: FormatChecker | None = ...
    ) -> None: ...
    def iter_errors(self, instance: object) -> Iterator[ValidationError]: ...
