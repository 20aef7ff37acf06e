"""The client's address: REMOTE_ADDR, or what the trusted proxies in front of us say it is.

``X-Forwarded-For`` is a list each proxy appends its peer's address to, so only the entries
written by proxies we run can be believed: the client writes whatever it likes at the left.
With ``TRUSTED_PROXIES`` empty (the default) the header is ignored; otherwise, if the request
comes from a trusted proxy, the header is walked from the right, past the trusted proxies, and
the first address that is not one is the client (docs/kiosk-api.md, "Client addresses").

Everything that needs the client's address (the pairing rate limit) asks ``client_address``.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The address of a request whose REMOTE_ADDR is not an IP address (a Unix socket behind a
#: local proxy): all such requests share it, so a rate limit on them errs on the strict side.
UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - an address to count by, not one to bind to


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Checked when the settings load; parsed once per value (tests change the setting).
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _parse(text: str) -> IPAddress | None:
    """The address in one X-Forwarded-For entry or REMOTE_ADDR, else None.

    Some proxies write a port (``203.0.113.7:5123``, ``[2001:db8::1]:443``); a zone index
    (``%eth0``) means nothing off the local link and is dropped, so it cannot split a client
    into many. IPv4-mapped IPv6 (``::ffff:203.0.113.7``) is the IPv4 address it carries.
    """
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))  # without its zone index
        return address.ipv4_mapped or address
    return address


def _trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The client's IP address, as text; never raises, always a valid address."""
    meta = request.META
    remote = _parse(str(meta.get("REMOTE_ADDR", "")))
    if remote is None:
        return UNKNOWN_ADDRESS
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(remote, networks):
        return str(remote)
    client = remote
    for entry in reversed(str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")):
        address = _parse(entry)
        if address is None:
            # A trusted hop handed on something that is not an address (or nothing: no header).
            # What lies left of it cannot be told apart from what the client wrote, so the
            # last trusted hop is the client as far as we can know. A client cannot choose
            # that address, so it cannot rotate it to escape a limit; at worst the clients
            # behind that hop share one count, which errs on the strict side.
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
