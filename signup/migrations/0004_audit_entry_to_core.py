"""The audit trail now belongs to the kernel (``core.0001``); its table stays as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0003_kept_apart"),
        ("core", "0001_audit_entry_from_signup"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]
