"""Which IP addresses a CRM request may go to: public ones only.

A retailer types the URL, so without this rule a webhook could reach our own network (the cloud's
metadata service at 169.254.169.254, Redis, the database). ``ipaddress``'s ``is_global`` is not
enough on its own: on Python 3.11 it calls multicast, site-local, NAT64, 6to4, IPv4-compatible
and IPv4-translated addresses global, and several IPv6 forms carry an IPv4 address that a
translator or tunnel on our network would deliver to.
"""

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Carrier-grade NAT space (RFC 6598): shared, never the internet.
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")

#: The well-known NAT64 prefix (RFC 6052). A DNS64 resolver in an IPv6-only cluster answers every
#: IPv4-only host with one of these, so they are judged by the IPv4 address they carry (the last
#: 32 bits) rather than refused, which would stop every delivery on such a cluster.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")

#: IPv6 forms that carry an IPv4 address in a way that is deprecated or chosen by the operator.
#: No CRM is reached through them, and a relay or translator on our network could deliver them to
#: a private IPv4 address, so they are refused whatever address they carry (the simplest safe
#: rule: no need to decode where each one hides its IPv4 address).
EMBEDDING_FORMS_REFUSED: tuple[ipaddress.IPv6Network, ...] = (
    # Local-use NAT64 (RFC 8215): the operator picks the prefix length, hence the position.
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    # 6to4 (RFC 3056): the IPv4 address is bits 16 to 48.
    ipaddress.IPv6Network("2002::/16"),
    # Teredo (RFC 4380): the client's IPv4 address is the last 32 bits, inverted.
    ipaddress.IPv6Network("2001::/32"),
    # IPv4-compatible (RFC 4291, deprecated): ::a.b.c.d; holds :: and ::1 too.
    ipaddress.IPv6Network("::/96"),
    # IPv4-translated (RFC 2765): ::ffff:0:a.b.c.d.
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)


def ip_is_public(ip: IPAddress) -> bool:
    """Whether a request to ``ip`` would leave for the public internet, and only there."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4-mapped address is the IPv4 address itself on a dual-stack socket.
        if ip.ipv4_mapped is not None:
            return ip_is_public(ip.ipv4_mapped)
        if ip in NAT64_WELL_KNOWN:
            return ip_is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.is_site_local or any(ip in network for network in EMBEDDING_FORMS_REFUSED):
            return False
    elif ip in SHARED_ADDRESS_SPACE:
        return False
    special = (
        ip.is_loopback,
        ip.is_private,
        ip.is_link_local,
        ip.is_unspecified,
        ip.is_multicast,
        ip.is_reserved,
    )
    return ip.is_global and not any(special)


def address_is_public(text: str) -> bool:
    """``ip_is_public`` for an address as text (a resolver's answer); unreadable is not public."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return ip_is_public(ip)
