from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def accounts_due_for_sync(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Accounts synced before the sign-up price was recorded do not know their allowance: the
    next re-sync run (``billing.services.resync``) takes the never-synced first."""
    apps.get_model("billing", "BillingAccount").objects.update(synced_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="billingaccount",
            name="included_signups",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="billingaccount",
            name="signups_price_id",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="trialsignup",
            name="requested_slug",
            field=models.SlugField(blank=True, max_length=40),
        ),
        migrations.RunPython(accounts_due_for_sync, migrations.RunPython.noop),
        # The hourly job's query (``selectors.usage_unsent``). A plain CREATE INDEX: the ledger is
        # still small, and CONCURRENTLY cannot run inside a transaction, where the tests migrate
        # new schemas.
        migrations.AddIndex(
            model_name="usagereport",
            index=models.Index(
                condition=models.Q(("sent_at__isnull", True)),
                fields=["hour", "id"],
                name="billing_usage_unsent_idx",
            ),
        ),
    ]
