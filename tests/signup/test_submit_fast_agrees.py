"""The fast path's check of a sign-up request and the DRF serializer are one validation.

``signup.submit_fast`` checks a tablet's request by hand (the serializer costs more than the
rest of the request) and hands anything it does not take, unchanged, to the DRF view. For that
to be one validation, not two that may drift apart, every request the hand check takes must be
one the serializer takes, with the very same values. Hypothesis searches for a counter-example
among well-formed, nearly well-formed and hostile requests.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from signup.apis import SubmissionInputSerializer
from signup.submit_fast import MAX_ID, _submission_values

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda value: str(value).upper()),
    st.uuids().map(lambda value: value.hex),
    st.uuids().map(lambda value: "{" + str(value) + "}"),
    st.uuids().map(lambda value: f"urn:uuid:{value}"),
    st.uuids().map(lambda value: f" {value} "),
    JSON,
)
VERSIONS = st.one_of(
    st.integers(min_value=-2, max_value=3),
    st.integers(min_value=MAX_ID - 2, max_value=MAX_ID + 2),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1", "01", " 1", "1.0", True, False]),
    JSON,
)
LOCALES = st.one_of(
    st.sampled_from(["fr", "pt-BR", "en_GB", "", "fr ", "x" * 8, "x" * 9, "é", "fr\n"]),
    st.from_regex(r"[A-Za-z0-9_-]{0,10}", fullmatch=True),
    JSON,
)
CAPTURED = st.one_of(
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.isoformat()),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda moment: moment.isoformat()
    ),
    st.sampled_from(["2026-11-25", "2026-11-25T10:00:00Z", "25/11/2026", "", "now", "T"]),
    JSON,
)
DICTS = st.one_of(st.dictionaries(st.text(max_size=6), JSON, max_size=3), JSON)


@st.composite
def requests(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "id": draw(IDS),
        "form_version": draw(VERSIONS),
        "locale": draw(LOCALES),
        "captured_at": draw(CAPTURED),
        "answers": draw(DICTS),
    }
    if draw(st.booleans()):
        body["consents"] = draw(DICTS)
    for key in draw(st.sets(st.sampled_from(sorted(body)), max_size=2)):
        del body[key]
    if draw(st.booleans()):
        body[draw(st.text(max_size=6))] = draw(JSON)
    return draw(st.one_of(st.just(body), JSON))


@settings(max_examples=1500, deadline=None)
@given(requests())
def test_what_the_fast_path_takes_the_serializer_takes_with_the_same_values(data: Any) -> None:
    fast = _submission_values(data)
    if fast is None:
        return  # handed to the DRF view, which answers with its own errors
    serializer = SubmissionInputSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert dict(serializer.validated_data) == fast


@settings(max_examples=300, deadline=None)
@given(
    st.uuids(),
    st.integers(min_value=1, max_value=MAX_ID),
    st.from_regex(r"[A-Za-z]{2}(-[A-Z]{2})?", fullmatch=True),
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    st.booleans(),
)
def test_every_request_a_tablet_sends_takes_the_fast_path(
    submission_id: uuid.UUID, version: int, locale: str, captured: datetime, consents: bool
) -> None:
    body: dict[str, Any] = {
        "id": str(submission_id),
        "form_version": version,
        "locale": locale,
        "captured_at": captured.isoformat().replace("+00:00", "Z"),
        "answers": {"email": "ann@example.com", "first_name": "Ann"},
    }
    if consents:
        body["consents"] = {"email": True}
    fast = _submission_values(body)
    assert fast is not None
    assert fast["id"] == submission_id
    assert fast["captured_at"] == captured
