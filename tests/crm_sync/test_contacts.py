"""A stored sign-up's mapped answers keep their kind on the way to the provider."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm_sync.contacts import contact_build
from crm_sync.providers.mapping import SIGNUP_DATE, Birthday
from signup.models import Submission
from tests.signup.factories import Kiosk

from .factories import sign_up

pytestmark = pytest.mark.django_db


def test_mapped_answers_keep_their_kind(kiosk: Kiosk) -> None:
    submission_id = sign_up(
        kiosk,
        drinks=["tea", "coffee"],
        drink="tea",
        vip=True,
        note="window seat",
        birthday={"month": 3, "day": 7},
    )
    submission = Submission.objects.get(pk=submission_id)
    mapping = {
        "drinks": "interests",
        "drink": "favourite",
        "vip": "vip",
        "note": "notes",
        "birthday": "birthday",
        SIGNUP_DATE: "first_visit",
    }

    contact = contact_build(key=1, submission=submission, field_mapping=mapping)

    local = timezone.localtime(submission.captured_at, ZoneInfo(kiosk.location.time_zone))
    assert contact.properties == {
        "interests": ["tea", "coffee"],
        "favourite": "tea",
        "vip": True,
        "notes": "window seat",
        "birthday": Birthday(3, 7),
        "first_visit": local.date(),
    }
    assert isinstance(contact.properties["first_visit"], date)
