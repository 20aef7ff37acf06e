"""The audit trail moves from the sign-up app to the kernel without touching a row.

State only: the model is taken over with its table (``signup_auditentry``), its indexes and its
rows as they are; ``signup.0004`` drops it from the sign-up app's state in the same deploy. The
content type is renamed so that permissions and admin links follow the model.
"""

import django.db.models.deletion
from django.apps.registry import Apps
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def content_type_follows(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="signup", model="auditentry").update(app_label="core")


def content_type_returns(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="core", model="auditentry").update(app_label="signup")


ACTIONS = [
    ("attention.export", "Exported what needs attention"),
    ("delivery.replay", "Sent a sign-up to a CRM again"),
    ("destination.create", "Connected a CRM"),
    ("destination.pause", "Paused a CRM"),
    ("destination.resume", "Resumed a CRM"),
    ("destination.rotate_secret", "Rotated a CRM's secret"),
    ("destination.test", "Tested a CRM connection"),
    ("destination.update", "Changed a CRM"),
    ("device.pair", "Paired a tablet"),
    ("device.pairing_code", "Made a pairing code"),
    ("device.revoke", "Revoked a tablet"),
    ("form.create", "Created a form"),
    ("form.draft_update", "Edited a form's draft"),
    ("form.publish", "Published a form"),
    ("form.update", "Changed a form's settings"),
    ("location.create", "Added a store"),
    ("location.update", "Changed a store"),
    ("member.activate", "Reactivated a team member"),
    ("member.create", "Added a team member"),
    ("member.deactivate", "Deactivated a team member"),
    ("member.role", "Changed a team member's role"),
    ("rejection.discard", "Discarded a refused sign-up"),
    ("rejection.release", "Released a refused sign-up"),
    ("settings.retention", "Changed the retention period"),
    ("shopper.erase", "Erased a shopper"),
    ("shopper.export", "Exported a shopper's data"),
    ("submission.discard_answer", "Discarded a set-aside answer"),
    ("submission.export", "Exported sign-ups"),
    ("submission.purge", "Purged old sign-ups"),
    ("submission.release_answer", "Released a set-aside answer"),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("signup", "0003_kept_apart"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("actor_label", models.CharField(blank=True, max_length=80)),
                        ("action", models.CharField(choices=ACTIONS, max_length=60)),
                        ("object_type", models.CharField(max_length=60)),
                        ("object_id", models.CharField(max_length=64)),
                        ("old", models.JSONField(blank=True, null=True)),
                        ("new", models.JSONField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "signup_auditentry",
                        "ordering": ["-created_at"],
                        "verbose_name_plural": "audit entries",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_follows, content_type_returns, elidable=True),
    ]
