"""Outgoing HTTP to CRMs: no redirects, bounded time, and no reaching into our own network.

A retailer can type any URL into a webhook destination. In production every host is resolved at
send time and the request goes to the very address that was checked (the Host header and TLS
name stay those of the URL), so a DNS answer that changes between check and connect (rebinding)
cannot steer a request to a private, loopback or link-local address.
"""

import ipaddress
import socket
from typing import Any

import httpx
from django.conf import settings

#: A CRM that has not answered in 15 s is treated as down for this attempt.
TIMEOUT_SECONDS = 15.0


class BlockedAddressError(Exception):
    """The URL leads to an address we never send to."""


def http_client(*, timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        headers={"User-Agent": "CustomerInfo/2.0 (+crm-sync)"},
    )


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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
    addresses = sorted({str(info[4][0]) for info in infos})
    blocked = [address for address in addresses if not _is_public(address)]
    if blocked or not addresses:
        raise BlockedAddressError(
            f"{parsed.host} resolves to a private, loopback or link-local address "
            f"({', '.join(blocked)}); CRM requests only go to public addresses."
        )
    return addresses[0]


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``client.request`` with the address check when production asks for it."""
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
