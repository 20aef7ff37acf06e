"""Errors of tenant provisioning, each with a stable code that pages and APIs can show."""


class TenantError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SchemaCloneError(Exception):
    """The template holds something the clone cannot copy faithfully."""
