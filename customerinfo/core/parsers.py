"""JSON request bodies, read by one set of rules: DRF's parser and the kiosk fast path alike.

Python's ``json`` raises more than ValueError on hostile input: a body nested a thousand deep
raises RecursionError, which DRF does not catch (a 500 before any token is checked). Here every
way a body can be unusable is one error, ``MalformedJSONError`` (DRF: ``ParseError``, 400
``malformed_request``):

- not UTF-8 (RFC 8259 says JSON between systems is UTF-8, so a declared charset is not followed:
  the fast path and DRF must agree on what a body says);
- not JSON, or a number Python would read as infinite (``1e999``), or NaN / Infinity, which
  DRF's strict mode refuses and which no JSON column or renderer accepts;
- nested deeper than ``MAX_JSON_DEPTH``: no request of this API needs more than a few levels,
  and every later walk over the data (serializers, validation, rendering) recurses.

Lone surrogates (``"\\ud800"``) are valid JSON escapes and are kept: refusing or cleaning them is
the validation's business, which knows which field they are in.
"""

import json
import math
import re
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

#: Deepest nesting of arrays and objects a body may have (the kiosk's deepest is three).
MAX_JSON_DEPTH = 32

#: A JSON string, escapes included. Run only over text ``json`` has accepted, where every quote
#: outside a string opens a terminated one, so it never rescans (linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: Keeps the brackets only, openers as ``(`` and closers as ``)``.
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class TooLarge(APIException):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE (413 ``too_large``). Here rather than in
    customerinfo.core.errors, which imports DRF's views, which import this module (the setting)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts."
    default_code = "too_large"


class MalformedJSONError(ValueError):
    """A body that is not JSON this API reads (the message says why, for the error's text)."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MalformedJSONError(f"The number {text[:20]} is too large.")
    return number


def _constant(name: str) -> Any:
    raise MalformedJSONError(f"{name} is not a JSON value.")


# Made once: json.loads with hooks would build a decoder (and its scanner) on every call.
# Like json's own default decoder, one instance serves every thread.
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)


def _deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the (valid) JSON text ``raw`` nests arrays and objects more than ``limit`` deep.

    Brackets outside strings, then innermost pairs removed a level per pass: a text empties
    after as many passes as it is deep. Every step is a C loop over bytes, so a 2.5 MB body
    costs a few milliseconds, where walking the parsed objects would cost a Python call each.
    """
    brackets = _STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"()", b"")
    return bool(brackets)


def json_loads_safe(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The value of the JSON body ``raw``; raises MalformedJSONError and nothing else."""
    try:
        text = raw.decode()
    except UnicodeDecodeError as error:
        raise MalformedJSONError("The body is not UTF-8 text.") from error
    try:
        value = _DECODER.decode(text)
    except RecursionError as error:
        # Deeper than the interpreter's stack, far past max_depth: same answer, said early.
        raise MalformedJSONError(f"The body nests deeper than {max_depth} levels.") from error
    except MalformedJSONError:
        raise
    except ValueError as error:  # JSONDecodeError, and integers too long to convert
        raise MalformedJSONError(str(error)) from error
    # Each level is a bracket in the text: with no more brackets than levels allowed (every
    # usual request), the depth cannot be over and the scan is skipped.
    if raw.count(b"[") + raw.count(b"{") > max_depth and _deeper_than(raw, max_depth):
        raise MalformedJSONError(f"The body nests deeper than {max_depth} levels.")
    return value


class SafeJSONParser(parsers.JSONParser):
    """DRF's JSON parser with ``json_loads_safe``'s rules: any unusable body is a ParseError."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Any = None,
    ) -> Any:
        # The API middleware refuses bodies over the limit by their Content-Length; a body whose
        # length was not declared is still read no further than one byte past it.
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            raw = stream.read() if limit is None else stream.read(limit + 1)
        except OSError as error:  # the client went away mid-body (Django's UnreadablePostError)
            raise ParseError("The request body could not be read.") from error
        if limit is not None and len(raw) > limit:
            raise TooLarge
        try:
            return json_loads_safe(raw)
        except MalformedJSONError as error:
            raise ParseError(f"JSON parse error - {error}") from error
