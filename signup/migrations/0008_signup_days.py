"""Daily sign-up counts per store, kept by triggers, and counted for the sign-ups already stored.

Why triggers: the kiosk stores a sign-up with one SQL statement (signup.services.submissions)
and the retention purge deletes in raw batches; a trigger sees every one of those writes in
their own transaction, with no Python on the kiosk's path. Inserts cost one upsert of the
store's day row (row triggers, the cheapest for one row); deletes are counted per statement
from the deleted rows (a purge batch of thousands is one UPDATE, not thousands).

A day is the store's calendar day of ``captured_at`` (when the shopper tapped Submit). A time
zone PostgreSQL does not know counts in UTC rather than failing the shopper's sign-up. Function
bodies name tables unqualified and each function's search path is pinned to its own schema:
they act on the schema of the table being written whatever the caller's search path, and a
schema cloned from the template or restored under a new name is pinned again to itself
(tenants.schemas.functions_pin_sql).
"""

from django.db import migrations, models
from django.db.models import deletion

FUNCTIONS = """
-- The zone a store's days are counted in: its own, or UTC if PostgreSQL does not know it.
-- Trying a zone needs an exception block, a subtransaction, which cost more than the rest of
-- the trigger: the answer is remembered per session and zone name (in a custom setting, keyed
-- by the name's hash as setting names allow no slash), so a sign-up pays a lookup only.
CREATE FUNCTION signup_day_zone(name text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    setting text := 'signup_day.zone_' || md5(name);
    known text := current_setting(setting, true);
BEGIN
    IF known <> '' THEN
        RETURN known;
    END IF;
    BEGIN
        PERFORM now() AT TIME ZONE name;
        known := name;
    EXCEPTION WHEN OTHERS THEN
        known := 'UTC';
    END;
    PERFORM set_config(setting, known, false);
    RETURN known;
END $$;

CREATE FUNCTION signup_day_submission_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signup_signupday AS counted (location_id, day, signups, email_opt_ins, sms_opt_ins)
    SELECT NEW.location_id, (NEW.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date,
        1, 0, 0
    FROM signup_location AS store WHERE store.id = NEW.location_id
    ON CONFLICT (location_id, day) DO UPDATE SET signups = counted.signups + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION signup_day_consent_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change integer := CASE WHEN NEW.granted THEN 1 ELSE -1 END;
BEGIN
    -- Inserted granted (+1), or granted turned on (+1) or off (-1) by an update.
    INSERT INTO signup_signupday AS counted (location_id, day, signups, email_opt_ins, sms_opt_ins)
    SELECT NEW.location_id, (NEW.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date,
        0,
        CASE WHEN NEW.channel = 'email' THEN change ELSE 0 END,
        CASE WHEN NEW.channel = 'sms' THEN change ELSE 0 END
    FROM signup_location AS store WHERE store.id = NEW.location_id
    ON CONFLICT (location_id, day) DO UPDATE SET
        email_opt_ins = counted.email_opt_ins + excluded.email_opt_ins,
        sms_opt_ins = counted.sms_opt_ins + excluded.sms_opt_ins;
    RETURN NULL;
END $$;

CREATE FUNCTION signup_day_submissions_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signup_signupday AS counted SET signups = counted.signups - gone.signups
    FROM (
        SELECT removed.location_id,
            (removed.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date AS day,
            count(*) AS signups
        FROM removed JOIN signup_location AS store ON store.id = removed.location_id
        GROUP BY 1, 2
    ) AS gone
    WHERE counted.location_id = gone.location_id AND counted.day = gone.day;
    RETURN NULL;
END $$;

CREATE FUNCTION signup_day_consents_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signup_signupday AS counted SET
        email_opt_ins = counted.email_opt_ins - gone.email,
        sms_opt_ins = counted.sms_opt_ins - gone.sms
    FROM (
        SELECT removed.location_id,
            (removed.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date AS day,
            count(*) FILTER (WHERE removed.channel = 'email') AS email,
            count(*) FILTER (WHERE removed.channel = 'sms') AS sms
        FROM removed JOIN signup_location AS store ON store.id = removed.location_id
        WHERE removed.granted
        GROUP BY 1, 2
    ) AS gone
    WHERE counted.location_id = gone.location_id AND counted.day = gone.day;
    RETURN NULL;
END $$;

-- Counts one store's days again from its sign-ups: the backfill, and a store whose time zone
-- changed (its days are other days now). Sign-ups and consents are locked against writes
-- meanwhile, so none is counted twice or missed; this waits for sign-ups being stored.
CREATE FUNCTION signup_day_recount(store_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    zone text;
BEGIN
    LOCK TABLE signup_submission, signup_consent IN SHARE MODE;
    SELECT signup_day_zone(store.time_zone) INTO zone
    FROM signup_location AS store WHERE store.id = store_id;
    DELETE FROM signup_signupday WHERE location_id = store_id;
    INSERT INTO signup_signupday (location_id, day, signups, email_opt_ins, sms_opt_ins)
    SELECT store_id, parts.day, sum(parts.signups), sum(parts.email), sum(parts.sms)
    FROM (
        SELECT (captured_at AT TIME ZONE zone)::date AS day, count(*) AS signups,
            0 AS email, 0 AS sms
        FROM signup_submission WHERE location_id = store_id GROUP BY 1
        UNION ALL
        SELECT (captured_at AT TIME ZONE zone)::date, 0,
            count(*) FILTER (WHERE channel = 'email'), count(*) FILTER (WHERE channel = 'sms')
        FROM signup_consent WHERE location_id = store_id AND granted GROUP BY 1
    ) AS parts
    GROUP BY parts.day;
END $$;

CREATE FUNCTION signup_day_zone_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM signup_day_recount(NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER signup_day_submission_added AFTER INSERT ON signup_submission
    FOR EACH ROW EXECUTE FUNCTION signup_day_submission_added();
CREATE TRIGGER signup_day_consent_added AFTER INSERT ON signup_consent
    FOR EACH ROW WHEN (NEW.granted) EXECUTE FUNCTION signup_day_consent_changed();
CREATE TRIGGER signup_day_consent_granted AFTER UPDATE OF granted ON signup_consent
    FOR EACH ROW WHEN (OLD.granted IS DISTINCT FROM NEW.granted)
    EXECUTE FUNCTION signup_day_consent_changed();
CREATE TRIGGER signup_day_submissions_removed AFTER DELETE ON signup_submission
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION signup_day_submissions_removed();
CREATE TRIGGER signup_day_consents_removed AFTER DELETE ON signup_consent
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION signup_day_consents_removed();
CREATE TRIGGER signup_day_zone_changed AFTER UPDATE OF time_zone ON signup_location
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION signup_day_zone_changed();

-- Pinned to this schema: a trigger resolving its tables through the caller's search path
-- would count in another shop's tables, or fail, when the caller's path is not this shop's.
DO $pin$
DECLARE routine regprocedure;
BEGIN
    FOR routine IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'signup\\_day%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, public', routine, current_schema());
    END LOOP;
END $pin$;

SELECT signup_day_recount(id) FROM signup_location;
"""

DROP = """
DROP TRIGGER IF EXISTS signup_day_zone_changed ON signup_location;
DROP TRIGGER IF EXISTS signup_day_consents_removed ON signup_consent;
DROP TRIGGER IF EXISTS signup_day_submissions_removed ON signup_submission;
DROP TRIGGER IF EXISTS signup_day_consent_granted ON signup_consent;
DROP TRIGGER IF EXISTS signup_day_consent_added ON signup_consent;
DROP TRIGGER IF EXISTS signup_day_submission_added ON signup_submission;
DROP FUNCTION IF EXISTS signup_day_zone_changed();
DROP FUNCTION IF EXISTS signup_day_recount(bigint);
DROP FUNCTION IF EXISTS signup_day_consents_removed();
DROP FUNCTION IF EXISTS signup_day_submissions_removed();
DROP FUNCTION IF EXISTS signup_day_consent_changed();
DROP FUNCTION IF EXISTS signup_day_submission_added();
DROP FUNCTION IF EXISTS signup_day_zone(text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0007_email_trigram"),
    ]

    operations = [
        migrations.CreateModel(
            name="SignupDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("signups", models.IntegerField(default=0)),
                ("email_opt_ins", models.IntegerField(default=0)),
                ("sms_opt_ins", models.IntegerField(default=0)),
                (
                    "location",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=deletion.DO_NOTHING,
                        related_name="+",
                        to="signup.location",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("location", "day"), name="signup_day_once")
                ],
            },
        ),
        migrations.RunSQL(FUNCTIONS, DROP),
    ]
