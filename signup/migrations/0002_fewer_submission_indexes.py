"""Three indexes fewer on the sign-up tables: every one of them is written by every sign-up.

- ``signup_submission.location_id`` alone: ``submission_location_idx`` (location, received_at)
  starts with it and serves the same look-ups, including PROTECT checks on store deletion.
- ``signup_consent.submission_id`` alone: the unique ``consent_once_per_channel`` (submission,
  channel) starts with it and serves the CASCADE from submissions.
- the ``varchar_pattern_ops`` twin of the email index, made by ``db_index=True`` for LIKE
  'prefix%': no query searches emails by prefix (exact look-ups use the plain index, the
  portal's contains-search can use neither).

The plain email index is kept and only renamed (to a name a Meta index can carry), so the
migration drops three indexes and builds none: it is quick on a large table and in every schema.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consent",
            name="submission",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="consents",
                to="signup.submission",
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="location",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="signup.location",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="submission",
                    name="email",
                    field=models.EmailField(max_length=254),
                ),
                migrations.AddIndex(
                    model_name="submission",
                    index=models.Index(fields=["email"], name="submission_email_idx"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=[
                        "ALTER INDEX signup_submission_email_db51855c"
                        " RENAME TO submission_email_idx",
                        "DROP INDEX signup_submission_email_db51855c_like",
                    ],
                    reverse_sql=[
                        "CREATE INDEX signup_submission_email_db51855c_like"
                        " ON signup_submission (email varchar_pattern_ops)",
                        "ALTER INDEX submission_email_idx"
                        " RENAME TO signup_submission_email_db51855c",
                    ],
                ),
            ],
        ),
    ]
