"""Serializer fields that take only the JSON type the API's schema promises.

DRF's fields are lenient: ``UUIDField`` reads ``false`` as the UUID 0 (a bool is an int),
``IntegerField`` takes ``true`` and ``"12"``, ``CharField`` takes ``5``. The OpenAPI schema says
string or integer, and clients branch on our answers, so a value of another JSON type is refused
as ``invalid`` before DRF converts anything. Every input serializer of the kiosk API uses these
(tests/core/test_fields.py checks that no other kind of scalar field slips in).
"""

from typing import Any

from rest_framework import serializers


def _refuse_unless(field: serializers.Field[Any, Any, Any, Any], data: Any, kind: type) -> None:
    # type(), not isinstance(): bool is a subclass of int.
    if type(data) is not kind:
        field.fail("invalid")


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data: Any) -> Any:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        _refuse_unless(self, data, int)
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)
