"""Fleet migrations: bring every tenant schema that is behind up to date, fast and resumably.

Why not Django's ``migrate`` once per schema: each run builds the migration graph, renders the
project state before and after, and sends the post-migrate signal for every app (about 70
queries for content types and permissions): 0.2 to 0.6 s per schema when the migration itself
is one ``ALTER TABLE``, where replaying it costs a few milliseconds.

How: schemas with the same applied migrations have the same plan, and the same tables (they are
clones of the template migrated by the same code). The first schema of each such group is
migrated by Django's ``migrate`` while the SQL its schema editor runs is recorded (Django logs
every schema statement to ``django.db.backends.schema``); every other schema of the group replays
that SQL and the same django_migrations rows, in one transaction per schema, in W long-lived
worker processes. A killed run leaves each schema migrated or behind, never half-way.

Replay is used only when every operation of the plan is one of Django's own schema operations or
RunSQL: their SQL depends on the schema's tables, never on its rows. A plan with RunPython (a data
migration runs against each schema's own rows), a third-party operation, a non-atomic migration or
a backwards step runs Django's ``migrate`` in each schema instead, still in the long-lived workers.
A schema whose replay fails (its tables differ from the group's first) gets Django's ``migrate``
before it is recorded as failed.
"""

import logging
import multiprocessing
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from django.db.models import Q
from django.db.models.signals import post_migrate
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from customerinfo.core.tenancy import tenant_connection, use_public_schema

from . import schemas
from .models import SchemaMigration, SchemaMigrationState

logger = logging.getLogger(__name__)

MigrationKey = schemas.MigrationKey
#: (schema, error or None)
Outcome = tuple[str, str | None]

#: Django's operations whose SQL follows from the tables alone. RenameModel is not here: the
#: content types app adds a RunPython step after it when ``migrate`` runs.
_REPLAYABLE: frozenset[type[Operation]] = frozenset(
    {
        operations.CreateModel,
        operations.DeleteModel,
        operations.AlterModelTable,
        operations.AlterModelTableComment,
        operations.AlterUniqueTogether,
        operations.AlterIndexTogether,
        operations.AlterOrderWithRespectTo,
        operations.AlterModelOptions,
        operations.AlterModelManagers,
        operations.AddIndex,
        operations.RemoveIndex,
        operations.RenameIndex,
        operations.AddConstraint,
        operations.RemoveConstraint,
        operations.AddField,
        operations.RemoveField,
        operations.AlterField,
        operations.RenameField,
        operations.RunSQL,
    }
)
#: Operations after which ``migrate``'s post-migrate signal adds content types or permissions.
_NEEDS_POST_MIGRATE: frozenset[type[Operation]] = frozenset(
    {operations.CreateModel, operations.AlterModelOptions}
)
#: Where Django's operations live; each of them checks the router before it touches a schema.
_ROUTED_MODULES = ("django.db.migrations.operations.", "django.contrib.postgres.operations")


@dataclass(frozen=True)
class Replay:
    """What the first schema of a group ran, to run again in the others."""

    statements: tuple[str, ...]
    applied: tuple[MigrationKey, ...]
    #: The plan, for the post-migrate signal's receivers.
    plan: tuple[MigrationKey, ...]
    post_migrate: bool


@dataclass(frozen=True)
class _PlanKind:
    replayable: bool
    post_migrate: bool


def _flatten(operation: Operation) -> Iterator[tuple[Operation, bool]]:
    """Each operation with whether it touches the database (state-only parts do not)."""
    if isinstance(operation, operations.SeparateDatabaseAndState):
        for inner in operation.database_operations:
            yield from _flatten(inner)
        for inner in operation.state_operations:
            yield inner, False
    else:
        yield operation, True


def plan_kind(plan: Sequence[tuple[Migration, bool]], *, tenant_labels: set[str]) -> _PlanKind:
    replayable, post_migrate = True, False
    for migration, backwards in plan:
        in_tenants = migration.app_label in tenant_labels
        if backwards or (in_tenants and not migration.atomic):
            replayable = False
        for operation, on_database in (
            item for top in migration.operations for item in _flatten(top)
        ):
            kind = type(operation)
            post_migrate = post_migrate or kind in _NEEDS_POST_MIGRATE
            if not on_database or kind in _REPLAYABLE:
                continue
            # Django's own operations ask django-tenants' router, which skips every app that is
            # not in the tenant schemas: they run nothing there, whatever they are.
            if not in_tenants and kind.__module__.startswith(_ROUTED_MODULES):
                continue
            replayable = False
    return _PlanKind(replayable=replayable, post_migrate=post_migrate)


def _plan(schema_name: str) -> list[tuple[Migration, bool]]:
    tenant_connection().set_schema(schema_name)
    try:
        executor = MigrationExecutor(connection)
        return executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        use_public_schema()


class _SchemaStatements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        sql: str | None = getattr(record, "sql", None)
        if sql is None:
            return
        params: Any = getattr(record, "params", None)
        # PostgreSQL's schema editor merges parameters before it logs; this covers any other.
        self.statements.append(sql if params is None else schemas.compose(sql, params))


@contextmanager
def _schema_statements() -> Iterator[list[str] | None]:
    """Collects the SQL Django's schema editor runs within the block, in order.

    Yields None when the log cannot be heard (``logging.disable``): an empty recording would
    replay as "nothing to do" and mark schemas migrated that are not.
    """
    schema_logger = logging.getLogger("django.db.backends.schema")
    handler = _SchemaStatements()
    saved = (schema_logger.level, schema_logger.propagate, schema_logger.disabled)
    schema_logger.addHandler(handler)
    schema_logger.setLevel(logging.DEBUG)
    schema_logger.propagate = False
    schema_logger.disabled = False
    try:
        yield handler.statements if schema_logger.isEnabledFor(logging.DEBUG) else None
    finally:
        schema_logger.removeHandler(handler)
        schema_logger.setLevel(saved[0])
        schema_logger.propagate, schema_logger.disabled = saved[1], saved[2]


# --- recording each schema's attempt ------------------------------------------------------------


def _mark_running(schema_names: Sequence[str], targets: list[list[str]]) -> None:
    now = timezone.now()
    SchemaMigration.objects.bulk_create(
        [
            SchemaMigration(
                schema_name=name,
                state=SchemaMigrationState.RUNNING,
                target=targets,
                error="",
                started_at=now,
                finished_at=None,
            )
            for name in schema_names
        ],
        update_conflicts=True,
        unique_fields=["schema_name"],
        update_fields=["state", "target", "error", "started_at", "finished_at", "updated_at"],
    )


def _mark_done(schema_name: str, output: str) -> None:
    SchemaMigration.objects.filter(schema_name=schema_name).update(
        state=SchemaMigrationState.DONE, output=output[-10_000:], finished_at=timezone.now()
    )


def _mark_failed(schema_name: str) -> None:
    SchemaMigration.objects.filter(schema_name=schema_name).update(
        state=SchemaMigrationState.FAILED, error=traceback.format_exc(), finished_at=timezone.now()
    )


def schema_migrate_recorded(schema_name: str, targets: list[list[str]]) -> Outcome:
    """Django's ``migrate`` in one schema, with the attempt recorded in SchemaMigration."""
    use_public_schema()
    _mark_running([schema_name], targets)
    try:
        output = schemas.schema_migrate(schema_name=schema_name)
    except Exception as error:
        _mark_failed(schema_name)
        return schema_name, f"{type(error).__name__}: {error}"
    _mark_done(schema_name, output)
    return schema_name, None


@cache
def _graph_nodes() -> dict[MigrationKey, Migration]:
    return dict(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def schema_replay(*, schema_name: str, replay: Replay) -> None:
    """Runs a recorded plan in one schema: it and its record commit together, or neither."""
    use_public_schema()
    done = UpdateQuery(SchemaMigration)
    done.add_q(Q(schema_name=schema_name))
    done.add_update_values(
        {
            "state": SchemaMigrationState.DONE,
            "output": f"Replayed {len(replay.statements)} statements: {_keys(replay)}"[-10_000:],
            "finished_at": timezone.now(),
        }
    )
    done_sql, done_params = done.get_compiler(DEFAULT_DB_ALIAS).as_sql()
    statements = [
        *replay.statements,
        schemas.record_applied_sql(schema_name=schema_name, keys=replay.applied),
        schemas.compose(done_sql, done_params),
    ]
    if not replay.post_migrate:
        # The common case, an added column or index: one round trip for the whole schema.
        schemas.schema_execute(schema_name=schema_name, statements=statements)
        return
    try:
        with transaction.atomic():
            schemas.schema_execute(schema_name=schema_name, statements=statements)
            tenant_connection().set_schema(schema_name)
            _post_migrate(replay)
    finally:
        use_public_schema()


def _post_migrate(replay: Replay) -> None:
    """The post-migrate signal, as ``migrate`` sends it, for the apps the plan changed.

    ``migrate`` sends it for every app, about 70 queries that find the content types and
    permissions of the apps it did not touch already there; the others' are what can be new.
    """
    nodes = _graph_nodes()
    plan = [(nodes[key], False) for key in replay.plan]
    for label in sorted({app for app, _ in replay.plan}):
        app_config = global_apps.get_app_config(label)
        if app_config.models_module is None:
            continue
        post_migrate.send(
            sender=app_config,
            app_config=app_config,
            verbosity=0,
            interactive=False,
            using=DEFAULT_DB_ALIAS,
            apps=global_apps,
            plan=plan,
        )


def _keys(replay: Replay) -> str:
    return ", ".join(f"{app}.{name}" for app, name in replay.plan)


def schema_update(schema_name: str, replay: Replay | None, targets: list[list[str]]) -> Outcome:
    """Replays the group's plan when there is one, else (or when replay fails) runs ``migrate``."""
    if replay is not None:
        try:
            schema_replay(schema_name=schema_name, replay=replay)
            return schema_name, None
        except Exception:
            logger.warning(
                "replay failed, running migrate", exc_info=True, extra={"schema": schema_name}
            )
    return schema_migrate_recorded(schema_name, targets)


def _update_chunk(
    schema_names: list[str], replay: Replay | None, targets: list[list[str]]
) -> list[Outcome]:
    """One worker's share: many schemas in one process that has set Django up once."""
    use_public_schema()
    _mark_running(schema_names, targets)
    return [schema_update(name, replay, targets) for name in schema_names]


# --- the run ---------------------------------------------------------------------------------


def _record_first(
    group: list[str], targets: list[list[str]], report: Callable[[Outcome], None]
) -> tuple[list[str], Replay | None]:
    """Migrates the group's first schema with ``migrate``, recording its SQL when replayable.

    Returns the schemas left and what they should replay; when a first schema fails, the next
    one is tried, so one broken schema does not hold back its group.
    """
    labels = schemas.tenant_app_labels()
    remaining = list(group)
    while remaining:
        first = remaining.pop(0)
        try:
            plan = _plan(first)
        except Exception:
            # An inconsistent history, say: ``migrate`` in each schema records what it finds.
            logger.warning("no plan, running migrate", exc_info=True, extra={"schema": first})
            return [first, *remaining], None
        kind = plan_kind(plan, tenant_labels=labels)
        if not kind.replayable:
            return [first, *remaining], None
        before = schemas.applied_migrations(schema_names=[first])[first]
        with _schema_statements() as statements:
            outcome = schema_migrate_recorded(first, targets)
        report(outcome)
        if statements is None:
            return remaining, None
        if outcome[1] is None:
            after = schemas.applied_migrations(schema_names=[first])[first]
            return remaining, Replay(
                statements=tuple(statements),
                applied=tuple(sorted(after - before)),
                plan=tuple((migration.app_label, migration.name) for migration, _ in plan),
                post_migrate=kind.post_migrate,
            )
    return [], None


def _groups(schema_names: Sequence[str]) -> list[list[str]]:
    """Schemas with the same applied migrations, in order; a schema without any stands alone."""
    applied = schemas.applied_migrations(schema_names=schema_names)
    groups: dict[frozenset[MigrationKey] | str, list[str]] = {}
    for name in schema_names:
        groups.setdefault(applied[name] or name, []).append(name)
    return list(groups.values())


def _worker_init() -> None:
    # The parent closed its connections before forking; start clean in case it had not.
    connections.close_all()


def schemas_update(
    *,
    schema_names: Sequence[str],
    targets: Sequence[MigrationKey],
    workers: int,
    report: Callable[[Outcome], None],
) -> None:
    """Brings ``schema_names`` (all behind) up to ``targets``; ``report`` hears each outcome."""
    target_list = [list(target) for target in targets]
    work: list[tuple[list[str], Replay | None]] = []
    for group in _groups(schema_names):
        work.append(_record_first(group, target_list, report))
    total = sum(len(names) for names, _ in work)
    if workers <= 1 or total <= 1:
        for names, replay in work:
            for name in names:
                report(schema_update(name, replay, target_list))
        return
    # Small chunks keep every worker busy to the end and the progress lines flowing.
    size = max(1, min(25, total // (workers * 4)))
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init
    ) as pool:
        futures = [
            pool.submit(_update_chunk, names[start : start + size], replay, target_list)
            for names, replay in work
            for start in range(0, len(names), size)
        ]
        for future in as_completed(futures):
            for outcome in future.result():
                report(outcome)
