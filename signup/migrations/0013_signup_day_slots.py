"""A store's daily counts spread over sixteen rows a day, so sign-ups stop queueing on one row.

Every sign-up added one to its store's row for the day, and held that row locked until its
transaction committed (the WAL flush included): a store's sign-ups were stored one after the
other. Measured with 16 connections signing up at one shop, most of the database's time went
to waiting for that lock (``Lock transactionid``), and without the counting the same load
served 21 % more sign-ups with 40 % less PostgreSQL CPU each.

Now a sign-up counts in one of sixteen rows of its store's day, chosen by its own id (the low
four bits of its last byte; tablets make random v4 ids), and its consents count in the same
row. The invariant, the same for every writer: row (store, day, slot) counts exactly the store's
sign-ups of that day whose id falls in that slot, and their opt-ins. So a deleted sign-up is
taken off the very row that counted it, and two sign-ups share a row lock only one time in
sixteen. Readers sum over the slots (they already summed over stores). A transaction still
locks one row per sign-up, so single sign-ups cannot deadlock one another.

Existing days are counted again per store into their slots (one pass over each store's
sign-ups, under the same lock as a time-zone change).
"""

from django.db import migrations, models

# The row of a day that counts a sign-up: (get_byte(uuid_send(<its id>), 15) % 16).
FUNCTIONS = """
CREATE OR REPLACE FUNCTION signup_day_submission_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO signup_signupday AS counted
        (location_id, day, slot, signups, email_opt_ins, sms_opt_ins)
    SELECT NEW.location_id, (NEW.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date,
        (get_byte(uuid_send(NEW.id), 15) % 16), 1, 0, 0
    FROM signup_location AS store WHERE store.id = NEW.location_id
    ON CONFLICT (location_id, day, slot) DO UPDATE SET signups = counted.signups + 1;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION signup_day_consent_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    change integer := CASE WHEN NEW.granted THEN 1 ELSE -1 END;
BEGIN
    -- Inserted granted (+1), or granted turned on (+1) or off (-1) by an update; in the row
    -- that counted its sign-up.
    INSERT INTO signup_signupday AS counted
        (location_id, day, slot, signups, email_opt_ins, sms_opt_ins)
    SELECT NEW.location_id, (NEW.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date,
        (get_byte(uuid_send(NEW.submission_id), 15) % 16), 0,
        CASE WHEN NEW.channel = 'email' THEN change ELSE 0 END,
        CASE WHEN NEW.channel = 'sms' THEN change ELSE 0 END
    FROM signup_location AS store WHERE store.id = NEW.location_id
    ON CONFLICT (location_id, day, slot) DO UPDATE SET
        email_opt_ins = counted.email_opt_ins + excluded.email_opt_ins,
        sms_opt_ins = counted.sms_opt_ins + excluded.sms_opt_ins;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION signup_day_submissions_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signup_signupday AS counted SET signups = counted.signups - gone.signups
    FROM (
        SELECT removed.location_id,
            (removed.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date AS day,
            (get_byte(uuid_send(removed.id), 15) % 16) AS slot,
            count(*) AS signups
        FROM removed JOIN signup_location AS store ON store.id = removed.location_id
        GROUP BY 1, 2, 3
    ) AS gone
    WHERE counted.location_id = gone.location_id AND counted.day = gone.day
        AND counted.slot = gone.slot;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION signup_day_consents_removed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signup_signupday AS counted SET
        email_opt_ins = counted.email_opt_ins - gone.email,
        sms_opt_ins = counted.sms_opt_ins - gone.sms
    FROM (
        SELECT removed.location_id,
            (removed.captured_at AT TIME ZONE signup_day_zone(store.time_zone))::date AS day,
            (get_byte(uuid_send(removed.submission_id), 15) % 16) AS slot,
            count(*) FILTER (WHERE removed.channel = 'email') AS email,
            count(*) FILTER (WHERE removed.channel = 'sms') AS sms
        FROM removed JOIN signup_location AS store ON store.id = removed.location_id
        WHERE removed.granted
        GROUP BY 1, 2, 3
    ) AS gone
    WHERE counted.location_id = gone.location_id AND counted.day = gone.day
        AND counted.slot = gone.slot;
    RETURN NULL;
END $$;

-- Counts one store's days again from its sign-ups: a store whose time zone changed (its days
-- are other days now). Sign-ups and consents are locked against writes meanwhile, so none is
-- counted twice or missed; this waits for sign-ups being stored.
CREATE OR REPLACE FUNCTION signup_day_recount(store_id bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    zone text;
BEGIN
    LOCK TABLE signup_submission, signup_consent IN SHARE MODE;
    SELECT signup_day_zone(store.time_zone) INTO zone
    FROM signup_location AS store WHERE store.id = store_id;
    DELETE FROM signup_signupday WHERE location_id = store_id;
    INSERT INTO signup_signupday (location_id, day, slot, signups, email_opt_ins, sms_opt_ins)
    SELECT store_id, parts.day, parts.slot, sum(parts.signups), sum(parts.email), sum(parts.sms)
    FROM (
        SELECT (captured_at AT TIME ZONE zone)::date AS day,
            (get_byte(uuid_send(id), 15) % 16) AS slot, count(*) AS signups, 0 AS email, 0 AS sms
        FROM signup_submission WHERE location_id = store_id GROUP BY 1, 2
        UNION ALL
        SELECT (captured_at AT TIME ZONE zone)::date,
            (get_byte(uuid_send(submission_id), 15) % 16), 0,
            count(*) FILTER (WHERE channel = 'email'), count(*) FILTER (WHERE channel = 'sms')
        FROM signup_consent WHERE location_id = store_id AND granted GROUP BY 1, 2
    ) AS parts
    GROUP BY parts.day, parts.slot;
END $$;
"""

# Replacing a function resets its settings: pinned again, as migration 0008 pinned them.
PIN = r"""
DO $pin$
DECLARE routine regprocedure;
BEGIN
    FOR routine IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'signup\_day%'
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, public', routine, current_schema());
    END LOOP;
END $pin$;

SELECT signup_day_recount(id) FROM signup_location;
"""


def _previous_functions() -> str:
    """Migration 0008's functions, for going back (their days are counted again, unslotted)."""
    from importlib import import_module

    days = import_module("signup.migrations.0008_signup_days")
    text: str = days.FUNCTIONS
    start = text.index("CREATE FUNCTION signup_day_submission_added")
    end = text.index("CREATE FUNCTION signup_day_zone_changed")
    return text[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0012_sign_ups_without_constraints"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="signupday", name="signup_day_once"),
        migrations.AddField(
            model_name="signupday",
            name="slot",
            field=models.SmallIntegerField(db_default=0),
        ),
        migrations.AddConstraint(
            model_name="signupday",
            constraint=models.UniqueConstraint(
                fields=("location", "day", "slot"), name="signup_day_once"
            ),
        ),
        # Going back, the old functions count every day again in one row (slot 0) before the
        # constraint on (store, day) returns.
        migrations.RunSQL(FUNCTIONS + PIN, _previous_functions() + PIN),
    ]
