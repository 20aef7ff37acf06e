"""Outgoing HTTP to CRMs: no redirects, bounded time, and no reaching into our own network.

A retailer can type any URL into a webhook destination. In production every host is resolved at
send time and the request goes to the very address that was checked (the Host header and TLS
name stay those of the URL), so a DNS answer that changes between check and connect (rebinding)
cannot steer a request to a private, loopback or link-local address.
"""

import socket
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
from django.conf import settings

from .addresses import address_is_public

#: A CRM that has not answered in 15 s is treated as down for this attempt.
TIMEOUT_SECONDS = 15.0


class BlockedAddressError(Exception):
    """The URL leads to an address we never send to."""


def http_client(*, timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        headers={"User-Agent": "CustomerInfo/2.0 (+crm-sync)"},
        # One client serves many retailers' destinations (``shared_client``): a cookie one
        # CRM account sets must never travel with another's request, so none is kept.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


#: One client per destination kind in this process, so calls reuse their connections: building
#: a client (its TLS context) cost about 27 ms, more than the rest of a small delivery.
_shared: dict[str, httpx.Client] = {}
_shared_lock = threading.Lock()


def shared_client(*, kind: str) -> httpx.Client:
    """This process's client for destinations of ``kind``, made on first use; the same timeouts
    as ``http_client``. Closed by ``shared_clients_close`` when the worker process ends."""
    with _shared_lock:
        client = _shared.get(kind)
        if client is None or client.is_closed:
            client = _shared[kind] = http_client()
        return client


def shared_clients_close() -> None:
    """Closes this process's shared clients (their pooled connections) and forgets them."""
    with _shared_lock:
        clients = list(_shared.values())
        _shared.clear()
    for client in clients:
        client.close()


def address_check(url: str) -> str:
    """Resolves the URL's host; returns one public address, or raises BlockedAddressError."""
    parsed = httpx.URL(url)
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise BlockedAddressError(f"Only http and https URLs can be used, not {url!r}.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise BlockedAddressError(f"The host {parsed.host} cannot be resolved.") from error
    except UnicodeError as error:
        # The resolver's IDNA codec refuses names like ``a..b``, which httpx lets through.
        raise BlockedAddressError(
            f"{parsed.host} is not a valid host name; correct the URL in the destination's "
            "settings."
        ) from error
    addresses = sorted({str(info[4][0]) for info in infos})
    # The resolver's answers are judged, not the spelling in the URL: ``127.1``, ``0x7f.1`` and
    # ``2130706433`` all come back as 127.0.0.1 here.
    blocked = [address for address in addresses if not address_is_public(address)]
    if blocked or not addresses:
        raise BlockedAddressError(
            f"{parsed.host} resolves to a private, loopback or link-local address "
            f"({', '.join(blocked)}); CRM requests only go to public addresses."
        )
    return addresses[0]


class UnusableSettingsError(Exception):
    """The request cannot be written from the destination's settings as they are."""


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``client.request`` with the address check when production asks for it."""
    try:
        return _send(client, method, url, **kwargs)
    except UnicodeError as error:
        # Only settings travel as text that must be ASCII or IDNA: the host name (``a..b``
        # fails the resolver's IDNA codec) and credentials in headers (a pasted token with a
        # non-breaking space); bodies are UTF-8 JSON. Retrying cannot help: say so.
        raise UnusableSettingsError(
            f"The destination's URL or credentials hold text that cannot be sent ({error}); "
            "correct them in the destination's settings."
        ) from error


def _send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    if not settings.CRM_BLOCK_PRIVATE_ADDRESSES:
        return client.request(method, url, **kwargs)
    parsed = httpx.URL(url)
    address = address_check(url)
    headers = dict(kwargs.pop("headers", None) or {})
    default_port = 443 if parsed.scheme == "https" else 80
    port = parsed.port or default_port
    headers["Host"] = parsed.host if port == default_port else f"{parsed.host}:{port}"
    pinned = parsed.copy_with(host=address)
    extensions = {"sni_hostname": parsed.host}
    return client.request(method, pinned, headers=headers, extensions=extensions, **kwargs)
