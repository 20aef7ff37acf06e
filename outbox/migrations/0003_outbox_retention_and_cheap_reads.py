"""Cheap reads of a long outbox, and the tally that replaces counting delivered rows.

Indexes are built concurrently: the outbox takes a row with every sign-up, and a plain CREATE
INDEX would hold those inserts for as long as it reads the table.

The outbox lives in the public schema only, yet every tenant schema's migration plan lists this
migration too (the router makes it a no-op there). Django's concurrent operations refuse to run
inside a transaction before they ask the router, so a tenant schema migrated inside one (a
clone's template, a test) would fail on an operation that does nothing: the operations below
ask the router first.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState

#: What the tally starts from: the delivered rows the outbox holds today.
_SEED_TALLY = """
INSERT INTO crm_outbox_deliverytally (tenant_id, destination_id, delivered)
SELECT tenant_id, destination_id, count(*) FROM crm_outbox_delivery
WHERE status = 'delivered' GROUP BY tenant_id, destination_id
ON CONFLICT (tenant_id, destination_id) DO NOTHING
"""


class _WherePublic:
    """Asks the router before the concurrent operation's transaction check (module docstring).
    Only the model's app decides, so the state it is looked up in does not matter."""

    model_name: str

    def _allowed(
        self, app_label: str, editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> bool:
        model = state.apps.get_model(app_label, self.model_name)
        allowed: bool = self.allow_migrate_model(editor.connection.alias, model)  # type: ignore[attr-defined]
        return allowed

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._allowed(app_label, schema_editor, to_state):
            super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if self._allowed(app_label, schema_editor, from_state):
            super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]


class AddIndexWherePublic(_WherePublic, AddIndexConcurrently):
    pass


class RemoveIndexWherePublic(_WherePublic, RemoveIndexConcurrently):
    pass


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crm_outbox", "0002_delivery_lease_token"),
        ("tenants", "0002_tenant_access"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeliveryTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("destination_id", models.BigIntegerField()),
                ("delivered", models.BigIntegerField(default=0)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "destination_id"), name="tally_once")
                ],
            },
        ),
        migrations.RunSQL(_SEED_TALLY, migrations.RunSQL.noop),
        AddIndexWherePublic(
            model_name="delivery",
            index=models.Index(
                fields=["tenant", "destination_id", "-created_at", "-id"],
                name="delivery_page_idx",
            ),
        ),
        AddIndexWherePublic(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "delivered"), _negated=True),
                fields=["tenant", "destination_id", "status", "created_at"],
                name="delivery_undelivered_idx",
            ),
        ),
        AddIndexWherePublic(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "delivered")),
                fields=["delivered_at"],
                name="delivery_purge_idx",
            ),
        ),
        RemoveIndexWherePublic(model_name="delivery", name="delivery_destination_idx"),
    ]
