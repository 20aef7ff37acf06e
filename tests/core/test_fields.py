"""Kiosk API inputs take only the JSON type the schema promises.

DRF would read ``false`` as the UUID 0, ``true`` or ``"12"`` as an integer and ``5`` as a string;
the strict fields refuse them all. The second test is the rule that keeps the class closed: no
input serializer of the kiosk API may use a lenient scalar field.
"""

import inspect
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from customerinfo.core.fields import (
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    StrictUUIDField,
)
from signup import apis

JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)

FIELDS: list[tuple[serializers.Field[Any, Any, Any, Any], type]] = [
    (StrictUUIDField(), str),
    (StrictIntegerField(), int),
    (StrictCharField(), str),
    (StrictRegexField(r"^.*$"), str),
]


@pytest.mark.parametrize(("field", "kind"), FIELDS)
@given(value=JSON)
def test_a_value_of_another_json_type_is_invalid(
    field: serializers.Field[Any, Any, Any, Any], kind: type, value: Any
) -> None:
    if type(value) is kind:
        return
    with pytest.raises(serializers.ValidationError) as caught:
        field.run_validation(value)
    codes = caught.value.get_codes()
    assert codes in (["invalid"], ["null"])  # null: refused before the type is read


def test_the_right_type_still_passes() -> None:
    assert str(StrictUUIDField().run_validation("a5d8e6b6-94b1-4e37-9c53-1f2b3c4d5e6f"))
    assert StrictIntegerField().run_validation(7) == 7
    assert StrictCharField().run_validation("x") == "x"


LENIENT = (
    serializers.UUIDField,
    serializers.IntegerField,
    serializers.CharField,
    serializers.FloatField,
    serializers.DecimalField,
    serializers.BooleanField,
)
STRICT = (StrictUUIDField, StrictIntegerField, StrictCharField, StrictRegexField)


def _inputs() -> list[type[serializers.Serializer[Any]]]:
    found: list[type[serializers.Serializer[Any]]] = []
    for _, owner in inspect.getmembers(apis, inspect.isclass):
        for name, member in [(owner.__name__, owner), *inspect.getmembers(owner, inspect.isclass)]:
            if name.endswith("InputSerializer") and issubclass(member, serializers.Serializer):
                found.append(member)
    return list(dict.fromkeys(found))


def _scalars(field: Any) -> list[Any]:
    if isinstance(field, serializers.Serializer):
        return [leaf for child in field.fields.values() for leaf in _scalars(child)]
    if isinstance(field, serializers.DictField | serializers.ListField):
        return _scalars(field.child)
    return [field]


def test_every_kiosk_input_serializer_uses_strict_scalar_fields() -> None:
    inputs = _inputs()
    assert len(inputs) >= 4  # pair, submission, rejection, heartbeat
    for serializer in inputs:
        for field in _scalars(serializer()):
            if isinstance(field, LENIENT):
                assert isinstance(field, STRICT), f"{serializer.__name__}.{field.field_name}"
