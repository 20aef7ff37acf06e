"""The kiosk's sign-up statement counts its own sign-up in the store's day; the insert triggers
count every other writer's.

The statement (signup.services.submissions) upserts the day's row itself, in the same snapshot
as its insert, and sets ``signup_day.counted`` to the sign-up's id for its transaction. The
insert triggers now pass over the rows of that id, so a sign-up is counted once whoever wrote
it: by the statement, or (the recovery's re-created sign-ups, a bench's or an operator's insert)
by the triggers, as before. The setting names one id, not "the statement counted", so a later
insert in the same transaction is still counted by the triggers.
"""

from django.db import migrations

COUNTED = "current_setting('signup_day.counted', true) IS DISTINCT FROM NEW.{column}::text"

TRIGGERS = f"""
DROP TRIGGER signup_day_submission_added ON signup_submission;
CREATE TRIGGER signup_day_submission_added AFTER INSERT ON signup_submission
    FOR EACH ROW WHEN ({COUNTED.format(column="id")})
    EXECUTE FUNCTION signup_day_submission_added();
DROP TRIGGER signup_day_consent_added ON signup_consent;
CREATE TRIGGER signup_day_consent_added AFTER INSERT ON signup_consent
    FOR EACH ROW WHEN (NEW.granted AND {COUNTED.format(column="submission_id")})
    EXECUTE FUNCTION signup_day_consent_changed();
"""

PREVIOUS = """
DROP TRIGGER signup_day_submission_added ON signup_submission;
CREATE TRIGGER signup_day_submission_added AFTER INSERT ON signup_submission
    FOR EACH ROW EXECUTE FUNCTION signup_day_submission_added();
DROP TRIGGER signup_day_consent_added ON signup_consent;
CREATE TRIGGER signup_day_consent_added AFTER INSERT ON signup_consent
    FOR EACH ROW WHEN (NEW.granted) EXECUTE FUNCTION signup_day_consent_changed();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("signup", "0013_signup_day_slots"),
    ]

    operations = [migrations.RunSQL(TRIGGERS, PREVIOUS)]
