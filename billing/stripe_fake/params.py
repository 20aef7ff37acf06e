"""Stripe's form encoding, read back: ``a[b][0][c]=v`` into nested dicts and lists.

stripe-python sends every v1 parameter as ``application/x-www-form-urlencoded`` (GETs in the
query string), lists with explicit indexes (``lookup_keys[0]=…``) and booleans as ``true``/
``false``; curl users write ``expand[]=…``. ``Params`` then reads one level with Stripe's own
refusals (``parameter_missing``, ``parameter_unknown``, ``Invalid integer``), naming the full
parameter path so a mistake in our client code reads exactly as it would against Stripe.
"""

import re
from collections.abc import Iterable
from typing import Any

from .state import Json, StripeError, invalid

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _segments(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        return [key]
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _insert(node: Json, path: list[str], value: str, key: str) -> None:
    head, rest = path[0], path[1:]
    if head == "":
        # ``a[]=x``: the next free position.
        head = str(len(node))
    if not rest:
        if isinstance(node.get(head), dict):
            raise invalid(f"Invalid value for {key}: it is also given as a hash.", param=key)
        node[head] = value
        return
    child = node.setdefault(head, {})
    if not isinstance(child, dict):
        raise invalid(f"Invalid hash for {key}: it is also given as a value.", param=key)
    _insert(child, rest, value, key)


def _listify(value: Any) -> Any:
    """A dict whose keys are all indexes is a list, in index order."""
    if not isinstance(value, dict):
        return value
    converted = {k: _listify(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def decode(pairs: Iterable[tuple[str, str]]) -> Json:
    root: Json = {}
    for key, value in pairs:
        _insert(root, _segments(key), value, key)
    decoded: Json = _listify(root)
    return decoded


class Params:
    """One level of decoded parameters; ``prefix`` names where it sits for error messages."""

    def __init__(self, data: Json, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def only(self, allowed: Iterable[str]) -> None:
        """Stripe refuses a parameter it does not know; so does the fake (typos surface here)."""
        known = {*allowed, "expand"}
        for key in self.data:
            if key not in known:
                raise StripeError(
                    400,
                    f"Received unknown parameter: {self.name(key)}",
                    code="parameter_unknown",
                    param=self.name(key),
                )

    def has(self, key: str) -> bool:
        return key in self.data

    def _missing(self, key: str) -> StripeError:
        return StripeError(
            400,
            f"Missing required param: {self.name(key)}.",
            code="parameter_missing",
            param=self.name(key),
        )

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def text(self, key: str, *, required: bool = False, choices: Iterable[str] = ()) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise self._missing(key)
            return None
        if not isinstance(value, str):
            raise invalid(
                f"Invalid string: {self.name(key)} must be a string.", param=self.name(key)
            )
        options = list(choices)
        if options and value not in options:
            raise invalid(
                f"Invalid {self.name(key)}: must be one of {', '.join(options)}",
                param=self.name(key),
            )
        return value

    def need(self, key: str, *, choices: Iterable[str] = ()) -> str:
        value = self.text(key, choices=choices)
        if value is None:
            raise self._missing(key)
        return value

    def integer(
        self, key: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise StripeError(
                400,
                f"Invalid integer: {value}",
                code="parameter_invalid_integer",
                param=self.name(key),
            ) from None
        if minimum is not None and number < minimum:
            raise invalid(
                f"Invalid {self.name(key)}: must be at least {minimum}",
                param=self.name(key),
                code="parameter_invalid_integer",
            )
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.text(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", param=self.name(key))
        return value == "true"

    def sub(self, key: str) -> "Params | None":
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {self.name(key)} must be a hash.", param=self.name(key))
        return Params(value, self.name(key))

    def items(self, key: str) -> list["Params"]:
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(f"Invalid array: {self.name(key)} must be a list of hashes.", param=key)
        return [Params(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"Invalid array: {self.name(key)} must be a list of strings.", param=key)
        return list(value)

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """``None`` when absent; ``{}`` when sent empty (which clears all keys on update)."""
        if key not in self.data:
            return None
        value = self.data[key]
        if value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise invalid(
                f"Invalid {self.name(key)}: must be a hash of strings.", param=self.name(key)
            )
        return dict(value)


def metadata_merge(current: dict[str, str], update: dict[str, str] | None) -> dict[str, str]:
    """Stripe's update rule: a key sent empty is removed, ``metadata=""`` removes them all."""
    if update is None:
        return current
    if not update:
        return {}
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
