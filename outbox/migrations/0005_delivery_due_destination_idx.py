"""An index for a worker's top-up of one destination's due rows, built concurrently.

The outbox takes a row with every sign-up of a shop with a CRM, so the index is built without
holding those inserts (as migration 0003's were, and through its router-aware operation).
"""

from importlib import import_module

from django.db import migrations, models

cheap_reads = import_module("outbox.migrations.0003_outbox_retention_and_cheap_reads")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crm_outbox", "0004_delivery_tenant_without_constraint"),
    ]

    operations = [
        cheap_reads.AddIndexWherePublic(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["tenant", "destination_id", "next_attempt_at"],
                name="delivery_due_destination_idx",
            ),
        ),
    ]
