"""The kernel: what every app may import, and which imports no app.

Errors and their one shape, the audit trail, accounts and roles, the portal's shell, typed access
to the tenant of the current connection, tenant-scoped Celery tasks, Redis, the database helpers
of the hot path and client addresses. The layers above it (the outbox, tenants, the apps, then
the wiring in ``customerinfo``) are enforced by the import-linter contracts in pyproject.toml.
"""
