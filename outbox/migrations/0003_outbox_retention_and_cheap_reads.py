"""Cheap reads of a long outbox, and the tally that replaces counting delivered rows.

Indexes are built concurrently: the outbox takes a row with every sign-up, and a plain CREATE
INDEX would hold those inserts for as long as it reads the table.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

#: What the tally starts from: the delivered rows the outbox holds today.
_SEED_TALLY = """
INSERT INTO crm_outbox_deliverytally (tenant_id, destination_id, delivered)
SELECT tenant_id, destination_id, count(*) FROM crm_outbox_delivery
WHERE status = 'delivered' GROUP BY tenant_id, destination_id
ON CONFLICT (tenant_id, destination_id) DO NOTHING
"""


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
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["tenant", "destination_id", "-created_at", "-id"],
                name="delivery_page_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "delivered"), _negated=True),
                fields=["tenant", "destination_id", "status", "created_at"],
                name="delivery_undelivered_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "delivered")),
                fields=["delivered_at"],
                name="delivery_purge_idx",
            ),
        ),
        RemoveIndexConcurrently(model_name="delivery", name="delivery_destination_idx"),
    ]
