"""Sign-ups and consents without foreign-key constraints; what they point to is kept instead.

Every constraint made each sign-up look up and lock (FOR KEY SHARE, which writes a WAL record)
the row it points to: the form version, store and tablet of the sign-up, and the sign-up,
consent text, store and tablet of each consent. signup/models.py (SIGN_UP_REFERENCES) says what
holds the references instead; this migration adds the part the database enforces: deleting a
store, a form version or a consent text is refused, by a statement trigger that costs nothing
to a sign-up. Tablets stay deletable through the ORM, whose on_delete empties the sign-ups'
device. Three indexes only a delete of those rows would have used go too.

Dropping a constraint or an index takes a short exclusive lock on the table; no rows are
rewritten.
"""

import django.db.models.deletion
from django.db import migrations, models

KEPT = """
CREATE FUNCTION signup_rows_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are kept: sign-ups point to them', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
        HINT = 'Close a store instead; form versions and consent texts never change.';
END $$;

-- Pinned to this schema like every function of a shop's (tenants.schemas.functions_pin_sql),
-- so a migrated schema and a cloned one are the same.
DO $pin$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION signup_rows_kept() SET search_path = %I, public', current_schema()
    );
END $pin$;

CREATE TRIGGER signup_location_kept BEFORE DELETE ON signup_location
    FOR EACH STATEMENT EXECUTE FUNCTION signup_rows_kept();
CREATE TRIGGER signup_formversion_kept BEFORE DELETE ON signup_formversion
    FOR EACH STATEMENT EXECUTE FUNCTION signup_rows_kept();
CREATE TRIGGER signup_consenttext_kept BEFORE DELETE ON signup_consenttext
    FOR EACH STATEMENT EXECUTE FUNCTION signup_rows_kept();
"""

UNKEPT = """
DROP TRIGGER IF EXISTS signup_consenttext_kept ON signup_consenttext;
DROP TRIGGER IF EXISTS signup_formversion_kept ON signup_formversion;
DROP TRIGGER IF EXISTS signup_location_kept ON signup_location;
DROP FUNCTION IF EXISTS signup_rows_kept();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0011_store_assignments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consent",
            name="device",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="signup.device",
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="location",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="signup.location",
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="submission",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="consents",
                to="signup.submission",
            ),
        ),
        migrations.AlterField(
            model_name="consent",
            name="text",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="signup.consenttext",
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="device",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="signup.device",
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="form_version",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="signup.formversion",
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="location",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                to="signup.location",
            ),
        ),
        migrations.RunSQL(KEPT, UNKEPT),
    ]
