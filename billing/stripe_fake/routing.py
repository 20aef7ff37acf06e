"""How ``/v1`` requests reach their handlers, and how answers are rendered.

Answers are rendered at this edge: private keys dropped, ``expand[]`` applied (an id becomes
the object it names; ``data.`` walks into lists; fields Stripe only includes on request, like a
price's ``tiers``, appear when named). A path Stripe does not have, or a method it does not
take there, answers Stripe's "Unrecognized request URL" 404.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from .params import Params
from .state import Json, Store, StripeError, invalid, list_object, public


@dataclass
class Call:
    store: Store
    params: Params
    args: tuple[str, ...]


Handler = Callable[[Call], Json]
#: Fields Stripe leaves out unless ``expand[]`` names them.
INCLUDABLE = frozenset({"tiers"})
_ID = "([^/]+)"


class Routes:
    """A table of (method, path pattern, handler); ``{id}`` in a pattern is one path segment."""

    def __init__(self) -> None:
        self.table: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.table.append((method, re.compile(pattern.replace("{id}", _ID)), handler))
            return handler

        return register


def dispatch(store: Store, method: str, path: str, params: Params, tables: list[Routes]) -> Json:
    for routes in tables:
        for verb, pattern, handler in routes.table:
            match = pattern.fullmatch(path)
            if match and verb == method:
                result = handler(Call(store, params, match.groups()))
                return render(store, result, params.strings("expand"))
    raise StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
    )


def render(store: Store, obj: Json, paths: list[str]) -> Json:
    out: Json = public(obj)
    for path in paths:
        _expand(store, out, obj, path.split("."), path)
    return out


def _expand(store: Store, out: Json, src: Json, segments: list[str], path: str) -> None:
    head, rest = segments[0], segments[1:]
    if head == "data" and isinstance(src.get("data"), list):
        for out_row, src_row in zip(out["data"], src["data"], strict=True):
            if rest:
                _expand(store, out_row, src_row, rest, path)
        return
    if f"_{head}" in src:
        child = src[f"_{head}"]
        out[head] = public(child)
    elif head in INCLUDABLE or (head in src and src[head] is None):
        # Nothing to expand: a per-unit price has no tiers, a new subscription no invoice yet.
        out[head] = None
        return
    elif isinstance(src.get(head), str) and src[head] in store.objects:
        child = store.objects[src[head]]
        out[head] = public(child)
    elif isinstance(src.get(head), dict):
        child = src[head]
    else:
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")
    if rest:
        _expand(store, out[head], child, rest, path)


def listed(call: Call, rows: list[Json], url: str) -> Json:
    limit = call.params.integer("limit", minimum=1) or 10
    if limit > 100:
        raise invalid("Invalid limit: must be between 1 and 100.", param="limit")
    return list_object(
        rows, url=url, limit=limit, starting_after=call.params.text("starting_after")
    )


def get_one(call: Call, kind: str, noun: str) -> Json:
    call.params.only(())
    return call.store.require(call.args[0], kind, noun)
