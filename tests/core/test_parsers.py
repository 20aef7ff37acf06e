"""json_loads_safe and SafeJSONParser: any body is a value or MalformedJSONError, nothing else."""

import contextlib
import json
from io import BytesIO
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from customerinfo.core.parsers import (
    MAX_JSON_DEPTH,
    MalformedJSONError,
    SafeJSONParser,
    TooLarge,
    json_loads_safe,
)


def nested(depth: int, *, inner: str = "1") -> bytes:
    """``depth`` levels, arrays and objects in turn, around ``inner``."""
    text = inner
    for level in range(depth):
        text = f'{{"k": {text}}}' if level % 2 else f"[{text}]"
    return text.encode()


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


def test_nesting_up_to_the_bound_is_read() -> None:
    assert depth_of(json_loads_safe(nested(MAX_JSON_DEPTH))) == MAX_JSON_DEPTH


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 200, 1_000, 100_000])
def test_nesting_past_the_bound_is_refused(depth: int) -> None:
    with pytest.raises(MalformedJSONError, match="nests deeper"):
        json_loads_safe(nested(depth))


def test_brackets_inside_strings_are_not_levels() -> None:
    text = json.dumps({"note": "[{" * 100 + '\\"]' * 50, "list": [["]]]"]]})
    assert json_loads_safe(text.encode())["list"] == [["]]]"]]


def test_many_shallow_containers_are_read() -> None:
    value = [[i, {"a": [i]}] for i in range(5_000)]
    assert json_loads_safe(json.dumps(value).encode()) == value


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN",
        b'{"a": Infinity}',
        b"[-Infinity]",
        b"1e999",
        b'{"queue_depth": -1e400}',
        b"{nope",
        b"",
        b"\xff\xfe{\x00}\x00",  # UTF-16, which json.loads would guess its way through
        b'{"a": "\xe9"}',  # Latin-1
        b"\xef\xbb\xbf{}",  # a byte order mark
        b"1" * 5_000,  # more digits than Python converts
        b'"\x00"',  # a control character inside a string
    ],
)
def test_what_is_not_json_this_api_reads_is_refused(raw: bytes) -> None:
    with pytest.raises(MalformedJSONError):
        json_loads_safe(raw)


def test_lone_surrogate_escapes_are_valid_json_and_kept() -> None:
    assert json_loads_safe(b'{"name": "\\ud800x"}') == {"name": "\ud800x"}


def test_the_error_is_a_value_error_as_json_loads_is() -> None:
    """Code that caught json.loads' ValueError keeps working with the helper."""
    assert issubclass(MalformedJSONError, ValueError)


@given(st.binary(max_size=300))
def test_any_bytes_are_a_value_or_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedJSONError):
        json_loads_safe(raw)


@given(
    st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b":", b",", b"1", b" "]))
    .map(b"".join)
    .filter(bool)
)
def test_any_jumble_of_json_punctuation_is_a_value_or_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedJSONError):
        json_loads_safe(raw)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)


def values(depth: int) -> st.SearchStrategy[Any]:
    """JSON-able values nested at most ``depth`` deep."""
    if depth == 0:
        return SCALARS
    inner = values(depth - 1)
    return (
        SCALARS
        | st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    )


@st.composite
def deep_values(draw: st.DrawFn) -> Any:
    """A value with one branch nested around the bound, and a sibling at every level."""
    value: Any = draw(SCALARS)
    for _ in range(draw(st.integers(min_value=1, max_value=MAX_JSON_DEPTH + 8))):
        sibling = draw(SCALARS | st.lists(SCALARS, max_size=2))
        value = [sibling, value] if draw(st.booleans()) else {"x": sibling, "deep": value}
    return value


@given(values(6), st.booleans())
def test_json_values_round_trip(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_loads_safe(raw) == value


@given(deep_values())
def test_values_are_refused_exactly_when_deeper_than_the_bound(value: Any) -> None:
    raw = json.dumps(value).encode()
    if depth_of(value) > MAX_JSON_DEPTH:
        with pytest.raises(MalformedJSONError):
            json_loads_safe(raw)
    else:
        assert json_loads_safe(raw) == value


# --- the DRF parser ----------------------------------------------------------------------------


def test_the_parser_answers_parse_error_for_a_deep_body() -> None:
    with pytest.raises(ParseError, match="nests deeper"):
        SafeJSONParser().parse(BytesIO(nested(1_000)))


def test_the_parser_reads_json() -> None:
    assert SafeJSONParser().parse(BytesIO(b'{"code": "AAAA"}')) == {"code": "AAAA"}


class Unreadable(BytesIO):
    def read(self, size: int | None = -1, /) -> bytes:
        raise OSError("client went away")


def test_a_body_that_cannot_be_read_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="could not be read"):
        SafeJSONParser().parse(Unreadable())


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10)
def test_the_parser_reads_no_further_than_the_limit() -> None:
    assert SafeJSONParser().parse(BytesIO(b"[1234567]")) == [1234567]
    with pytest.raises(TooLarge):
        SafeJSONParser().parse(BytesIO(b"[12345678901]"))
