"""Only public addresses are called: no IPv4 spelling or IPv6 form reaches our own network."""

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_sync.addresses import address_is_public, ip_is_public
from crm_sync.http import BlockedAddressError, address_check

#: IPv4 space that is not the internet (IANA special-purpose registry): an independent oracle.
NOT_PUBLIC_V4 = [
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/29",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]
#: Left out of the "public" samples: registries and Python versions disagree about them.
UNSETTLED_V4 = [ipaddress.IPv4Network("192.0.0.0/24"), ipaddress.IPv4Network("192.88.99.0/24")]

not_public_v4 = st.sampled_from(NOT_PUBLIC_V4).flatmap(lambda net: st.ip_addresses(network=net))
public_v4 = st.ip_addresses(v=4).filter(
    lambda ip: not any(ip in network for network in NOT_PUBLIC_V4 + UNSETTLED_V4)
)
bits = st.integers(min_value=0)


def _v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value & (2**128 - 1))


# Each IPv6 form that carries an IPv4 address, built from the address and some free bits.
EMBEDDINGS: dict[str, Callable[[int, int], ipaddress.IPv6Address]] = {
    "mapped ::ffff:a.b.c.d": lambda v4, _: _v6(0xFFFF << 32 | v4),
    "compatible ::a.b.c.d": lambda v4, _: _v6(v4),
    "translated ::ffff:0:a.b.c.d": lambda v4, _: _v6(0xFFFF << 48 | v4),
    "NAT64 64:ff9b::/96": lambda v4, _: _v6(0x64FF9B << 96 | v4),
    "local NAT64 64:ff9b:1::/48": lambda v4, free: _v6(
        0x64FF9B0001 << 80 | (free % 2**48) << 32 | v4
    ),
    "6to4 2002::/16": lambda v4, free: _v6(0x2002 << 112 | v4 << 80 | free % 2**80),
    # Teredo: server IPv4, flags, port, then the client's IPv4 inverted.
    "Teredo 2001::/32": lambda v4, free: _v6(
        0x20010000 << 96 | (free % 2**64) << 32 | (v4 ^ 0xFFFFFFFF)
    ),
}


@settings(deadline=None)
@given(ip=not_public_v4)
def test_a_private_ipv4_address_is_refused(ip: ipaddress.IPv4Address) -> None:
    assert not ip_is_public(ip)
    assert not address_is_public(str(ip))


@settings(deadline=None)
@given(ip=not_public_v4, free=bits, form=st.sampled_from(sorted(EMBEDDINGS)))
def test_every_ipv6_form_of_a_private_ipv4_address_is_refused(
    ip: ipaddress.IPv4Address, free: int, form: str
) -> None:
    embedded = EMBEDDINGS[form](int(ip), free)
    assert not ip_is_public(embedded), f"{embedded} ({form} of {ip})"
    assert not address_is_public(str(embedded))


@settings(deadline=None)
@given(ip=public_v4)
def test_a_public_ipv4_address_is_allowed(ip: ipaddress.IPv4Address) -> None:
    assert ip_is_public(ip)
    assert address_is_public(str(ip))


@settings(deadline=None)
@given(ip=public_v4)
def test_a_public_ipv4_address_is_allowed_mapped_and_through_dns64(
    ip: ipaddress.IPv4Address,
) -> None:
    # A dual-stack socket and an IPv6-only cluster's DNS64 resolver give these forms.
    for form in ("mapped ::ffff:a.b.c.d", "NAT64 64:ff9b::/96"):
        assert ip_is_public(EMBEDDINGS[form](int(ip), 0)), form


@settings(deadline=None)
@given(ip=public_v4, free=bits)
def test_deprecated_and_operator_defined_embeddings_are_refused_even_when_public(
    ip: ipaddress.IPv4Address, free: int
) -> None:
    """The simplest safe rule: no CRM is reached through these, whatever they carry."""
    for form in ("compatible ::a.b.c.d", "translated ::ffff:0:a.b.c.d", "6to4 2002::/16"):
        assert not ip_is_public(EMBEDDINGS[form](int(ip), free)), form
    for form in ("local NAT64 64:ff9b:1::/48", "Teredo 2001::/32"):
        assert not ip_is_public(EMBEDDINGS[form](int(ip), free)), form


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("64:ff9b::5db8:d822", True),  # 93.184.216.34 through DNS64
        ("100.64.0.1", False),  # carrier-grade NAT
        ("224.0.0.1", False),  # multicast, "global" to Python 3.11
        ("ff02::1", False),
        ("fec0::1", False),  # site-local, "global" to Python 3.11
        ("fc00::1", False),
        ("fe80::1%eth0", False),
        ("::", False),
        ("::1", False),
        ("64:ff9b::a9fe:a9fe", False),  # the metadata service through NAT64
        ("2002:a9fe:a9fe::1", False),  # ... and through 6to4
        ("not an address", False),
        ("", False),
    ],
)
def test_addresses_as_the_resolver_gives_them(address: str, public: bool) -> None:
    assert address_is_public(address) is public


@pytest.mark.parametrize(
    "url",
    [
        # Each spelling reaches the resolver, which reads it as 127.0.0.1: that is what is judged.
        "http://127.1/hook",
        "http://0x7f.1/hook",
        "http://2130706433/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[2002:7f00:1::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",  # Teredo, client 127.0.0.1
        "http://[64:ff9b:1::a00:1]/hook",
    ],
)
def test_the_send_time_check_refuses_every_spelling_of_a_private_address(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        address_check(url)
