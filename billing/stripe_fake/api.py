"""The Stripe API the fake answers: every ``/v1`` route table, in one place."""

from .api_billing import routes as billing_routes
from .api_catalog import routes as catalog_routes
from .params import Params
from .routing import dispatch as dispatch_to
from .state import Json, Store

TABLES = [catalog_routes, billing_routes]


def dispatch(store: Store, method: str, path: str, params: Params) -> Json:
    return dispatch_to(store, method, path, params, TABLES)
