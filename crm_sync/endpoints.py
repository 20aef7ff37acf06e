"""The URLs a retailer types into a destination: read once, strictly, and stored normalised.

Parsers disagree about odd URLs. ``http://[::1/x``, ``http://a..b/x`` or ``http://127.000.000.001/``
got past the old ``startswith("https://")`` check, then httpx refused them at send time, so
"Test connection" failed with a 500 and deliveries looped. And ``127.1``, ``0x7f.1`` or
``2130706433`` are 127.0.0.1 to the resolver but a name to a naive check. So a URL is read here
by rules narrow enough that this module, httpx, the resolver and a browser all read it the same
way, and stored in one normal form (lower-case scheme and host, IDNA host, no default port, no
fragment). Anything else is a ``UrlError`` with a stable code and words a retailer understands.
"""

import enum
import ipaddress
import re
import socket
from collections.abc import Mapping
from typing import Any

import httpx
import idna
from django.conf import settings
from django.utils.translation import gettext as _

from customerinfo.core.errors import FieldErrors

from .addresses import ip_is_public

#: Far longer than any real endpoint; the portal's inputs stop at 500 characters anyway.
MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HOST_LENGTH = 253

_REST = re.compile(
    r"(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?",
    re.DOTALL,
)
_BRACKETED = re.compile(r"\[(?P<address>[^\[\]]*)\](?::(?P<port>.*))?", re.DOTALL)
_PORT = re.compile(r"[0-9]{1,5}")
# Letters, digits and hyphens (RFC 1123), plus the underscore some real hosts carry.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# A last label like this makes a browser read the whole host as an IPv4 address (WHATWG URL).
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")


class UrlRole(enum.Enum):
    #: Called as it is (a webhook): the query is kept.
    ENDPOINT = "endpoint"
    #: API paths are appended to it (``base_url``, a login URL): a query or fragment would
    #: swallow them, so neither is allowed.
    API_BASE = "api_base"


class UrlError(ValueError):
    """A URL we will not store, with a stable ``code`` and a message for the retailer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _printable(text: str) -> bool:
    # Spaces, control and format characters and lone surrogates are where parsers disagree.
    return all(char != " " and char.isprintable() for char in text)


def _port(text: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise UrlError("invalid_port", _("The port must be a number from 1 to 65535."))
    return int(text)


def _ipv6_host(address: str) -> str:
    try:
        # No zone (%eth0): it names one of our own interfaces, never a CRM.
        ip = ipaddress.IPv6Address(address) if "%" not in address else None
    except ValueError:
        ip = None
    if ip is None:
        raise UrlError(
            "invalid_host", _("“%(address)s” is not a valid IPv6 address.") % {"address": address}
        )
    return f"[{ip.compressed}]"


def _ipv4_host(host: str) -> str:
    """A host whose last label is a number is an IPv4 address, written the one plain way."""
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    try:
        reading = " " + _("It reads as %(address)s.") % {
            "address": socket.inet_ntoa(socket.inet_aton(host))
        }
    except (OSError, ValueError):
        reading = ""
    raise UrlError(
        "ambiguous_ip_address",
        _("Write the IP address as four plain decimal numbers, like 203.0.113.7.") + reading,
    )


def _name_host(host: str) -> str:
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as error:
            raise UrlError(
                "invalid_host", _("“%(host)s” is not a valid host name.") % {"host": host}
            ) from error
    host = host.lower()
    labels = host.split(".")
    if any(not label for label in labels):
        raise UrlError(
            "invalid_host",
            _("The host name has an empty part: two dots in a row, or a dot at the start or end."),
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _ipv4_host(host)
    if len(host) > MAX_HOST_LENGTH or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlError("invalid_host", _("“%(host)s” is not a valid host name.") % {"host": host})
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError) as error:
                raise UrlError(
                    "invalid_host", _("“%(host)s” is not a valid host name.") % {"host": host}
                ) from error
    return host


def _host_and_port(authority: str) -> tuple[str, int | None]:
    if "@" in authority:
        raise UrlError(
            "userinfo",
            _(
                "A URL cannot carry a user name or password (user@host): put secrets in the "
                "credential fields."
            ),
        )
    bracketed = _BRACKETED.fullmatch(authority) if authority.startswith("[") else None
    if bracketed is not None:
        port = bracketed["port"]
        return _ipv6_host(bracketed["address"]), None if port is None else _port(port)
    if "[" in authority or "]" in authority:
        raise UrlError(
            "invalid_host", _("Write an IPv6 address in matching brackets: [2001:db8::1].")
        )
    host, colon, port_text = authority.partition(":")
    if ":" in port_text:
        raise UrlError("invalid_host", _("Write an IPv6 address in brackets: [2001:db8::1]."))
    if not host:
        raise UrlError("invalid_host", _("The URL has no host name."))
    return _name_host(host), _port(port_text) if colon else None


def _private_check(host: str, block_private: bool | None) -> None:
    """A literal address we would never send to is refused now rather than at the first send.

    Names are not resolved here (DNS answers change): the send path checks what they resolve
    to, every time.
    """
    if not (settings.CRM_BLOCK_PRIVATE_ADDRESSES if block_private is None else block_private):
        return
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if not ip_is_public(ip):
        raise UrlError(
            "private_address",
            _(
                "%(host)s is a private, loopback or link-local address; CRM requests only go "
                "to public addresses."
            )
            % {"host": host},
        )


def url_normalise(
    text: str, *, role: UrlRole = UrlRole.ENDPOINT, block_private: bool | None = None
) -> str:
    """The URL in its normal form, or ``UrlError``. Normalising a normal form changes nothing.

    ``block_private`` defaults to ``CRM_BLOCK_PRIVATE_ADDRESSES``.
    """
    text = text.strip()
    if len(text) > MAX_URL_LENGTH:
        raise UrlError(
            "too_long",
            _("A URL of at most %(count)s characters, please.") % {"count": MAX_URL_LENGTH},
        )
    scheme, separator, rest = text.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise UrlError("unsupported_scheme", _("Give an http:// or https:// URL."))
    if not _printable(rest):
        raise UrlError("invalid_url", _("A URL cannot contain spaces or control characters."))
    parts = _REST.fullmatch(rest)
    if parts is None:  # pragma: no cover - the pattern matches any text
        raise UrlError("invalid_url", _("This URL cannot be read."))
    host, port = _host_and_port(parts["authority"])
    _private_check(host, block_private)
    query, fragment = parts["query"], parts["fragment"]
    if role is UrlRole.API_BASE and (query is not None or fragment is not None):
        raise UrlError(
            "query_not_allowed", _("An API address ends at its path: no “?” or “#” part.")
        )
    normal = f"{scheme}://{host}"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        normal += f":{port}"
    # The fragment is dropped: it never leaves the client.
    normal += parts["path"] + (f"?{query}" if query else "")
    _httpx_agrees(normal, host=host, port=port, scheme=scheme)
    return normal


def _httpx_agrees(url: str, *, host: str, port: int | None, scheme: str) -> None:
    """The client that sends must read the URL as we did, or we refuse it rather than guess."""
    try:
        parsed = httpx.URL(url)
        same = (
            parsed.scheme == scheme
            and parsed.raw_host.decode("ascii") == host.strip("[]")
            and (parsed.port or DEFAULT_PORTS[scheme]) == (port or DEFAULT_PORTS[scheme])
        )
    except (httpx.InvalidURL, UnicodeError, ValueError):
        same = False
    if not same:
        raise UrlError("invalid_url", _("This URL cannot be read."))


def settings_normalise(
    settings_: Mapping[str, Any], roles: Mapping[str, UrlRole]
) -> tuple[dict[str, Any], FieldErrors]:
    """The settings with every URL in ``roles`` normalised, and the errors of those that are
    not URLs. An empty value stays empty: whether it is required is the provider's to say."""
    normal = dict(settings_)
    errors: FieldErrors = {}
    for name, role in roles.items():
        value = settings_.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            if not isinstance(value, str):
                raise UrlError("invalid_url", _("Give an http:// or https:// URL."))
            normal[name] = url_normalise(value, role=role)
        except UrlError as error:
            errors[name] = [{"code": error.code, "message": error.message}]
    return normal, errors


def url_host(text: str) -> str | None:
    """The host of a URL that normalises, else None (for checks that need only the host)."""
    try:
        normal = url_normalise(text, block_private=False)
    except UrlError:
        return None
    return httpx.URL(normal).raw_host.decode("ascii")
