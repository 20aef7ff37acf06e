"""Property tests of the answer rules: whatever a tablet sends, sorting never raises, keeps
nothing PostgreSQL cannot store, loses no answer, and refuses only a sign-up without an email."""

import json
import random
import re
import shutil
import string
import subprocess
from typing import Any

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from signup.answers import (
    EMAIL_PATTERN,
    POSTAL_CODE_PATTERN,
    answers_sort,
    kiosk_rules,
    normalise_email,
    storable,
)
from tests.signup.factories import full_definition

DEFINITION = full_definition()
for _consent in DEFINITION["consents"].values():
    _consent["wording"] = {}
FIELD_KEYS = [field["key"] for field in DEFINITION["fields"]]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
answer_keys = st.sampled_from([*FIELD_KEYS, "unknown", "nul\x00", "\ud800"]) | st.text(max_size=8)


def _unstorable(value: Any) -> bool:
    """Whether ``value`` holds a character PostgreSQL's jsonb or UTF-8 cannot take."""
    text = json.dumps(value, ensure_ascii=False)
    return "\\u0000" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


@settings(max_examples=300, deadline=None)
@given(
    answers=st.dictionaries(answer_keys, json_values, max_size=8) | json_values,
    consents=st.dictionaries(st.text(max_size=6), json_values, max_size=3) | json_values,
    country=st.sampled_from(["US", "FR", "GB", "", "ZZ"]),
)
def test_sorting_never_raises_and_loses_nothing(answers: Any, consents: Any, country: str) -> None:
    clean = answers_sort(definition=DEFINITION, answers=answers, consents=consents, country=country)
    # Nothing kept can break the INSERT.
    assert not _unstorable(clean.set_aside)
    assert not _unstorable(clean.custom)
    assert not _unstorable([clean.first_name, clean.last_name, clean.postal_code, clean.phone])
    # Refused exactly when there is no usable email.
    assert clean.refused == (clean.email == "")
    assert clean.refused == ("email" in clean.problems)
    # Every answer sent is either stored or set aside (or is the email of a refused sign-up).
    if isinstance(answers, dict) and not clean.refused:
        for key, value in answers.items():
            kept = storable(key) in clean.set_aside or key in clean.custom
            stored_as_column = key in FIELD_KEYS and key not in clean.custom
            assert kept or stored_as_column or value in (None, "", [], False), key
    # A consent is granted only by a literal true that was offered.
    for channel, granted in clean.consents.items():
        assert not granted or (isinstance(consents, dict) and consents.get(channel) is True)


@settings(max_examples=200, deadline=None)
@given(local=st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True), domain=st.text(max_size=20))
def test_email_rule_is_one_regex_read_alike_by_both_sides(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    clean = answers_sort(definition=DEFINITION, answers={"email": value}, consents={}, country="FR")
    normalised = normalise_email(value)
    matches = re.fullmatch(EMAIL_PATTERN, normalised) is not None and len(normalised) <= 254
    assert (clean.email == normalised) == matches


def test_javascript_reads_the_rules_exactly_as_python_does() -> None:
    """The tablet runs the same patterns in the browser: node's RegExp must agree with Python's
    ``re`` on every string, tricky ones included (Unicode, line breaks, dots, dashes)."""
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "Node.js is needed to check the kiosk's rules (Debian package nodejs)"
    rng = random.Random(9)
    alphabet = "aZ09.-_+@'!#~é\nK\u212a\u0130 \t" + string.punctuation
    samples = [
        "ann@example.com",
        "a.b@c.co",
        "a..b@c.co",
        ".a@c.co",
        "a@-c.co",
        "a@c-.co",
        "a@c.c",
        "a@xn--bcher-kva.example",
        "a@c.co\n",
        "K@k.co",
        "ab 1",
        "SW1A 1AA",
        "75001",
        "-12",
    ]
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3000)
    ]
    samples += [f"{s}@{t}.com" for s, t in zip(samples[:500], samples[500:1000], strict=True)]
    script = (
        "const [patterns, samples] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const res = patterns.map((p) => new RegExp(p));"
        "process.stdout.write(JSON.stringify(res.map((r) => samples.map((s) => r.test(s)))));"
    )
    patterns = [EMAIL_PATTERN, POSTAL_CODE_PATTERN]
    output = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [node, "-e", script],
        input=json.dumps([patterns, samples]),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for pattern, verdicts in zip(patterns, json.loads(output), strict=True):
        python = [re.fullmatch(pattern, sample) is not None for sample in samples]
        disagree = [s for s, p, j in zip(samples, python, verdicts, strict=True) if p != j]
        assert not disagree, (pattern, disagree[:5])


def test_the_tablet_gets_the_rules_the_server_uses() -> None:
    rules = kiosk_rules(country="GB")
    assert rules["email_pattern"] == EMAIL_PATTERN
    assert rules["postal_code_pattern"] == POSTAL_CODE_PATTERN
    assert rules["phone_country"] == "GB"


@settings(max_examples=200, deadline=None)
@given(digits=st.from_regex(r"\+?[0-9 ]{1,18}", fullmatch=True))
def test_a_phone_is_stored_only_when_valid_for_the_store(digits: str) -> None:
    clean = answers_sort(
        definition=DEFINITION,
        answers={"email": "ann@example.com", "phone": digits},
        consents={},
        country="US",
    )
    if clean.phone:
        assert phonenumbers.is_valid_number(phonenumbers.parse(clean.phone))
    else:
        assert (
            clean.set_aside["phone"]["code"] in {"invalid_phone", "required"} or not digits.strip()
        )
