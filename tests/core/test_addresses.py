"""client_address: X-Forwarded-For is believed only from TRUSTED_PROXIES, walked from the right."""

import ipaddress
from typing import Any

import pytest
from django.test import override_settings
from django.test.client import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from customerinfo.core.addresses import UNKNOWN_ADDRESS, client_address
from tests.customerinfo.test_settings import PRODUCTION, run_django

#: The ingress (a pod network) and a load balancer in front of it.
PROXIES = ["10.0.0.0/8", "192.0.2.1", "2001:db8:ff::/48"]


def address_of(remote: str, forwarded: str | None = None) -> str:
    headers: dict[str, Any] = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **headers))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert address_of("198.51.100.7", "203.0.113.9") == "198.51.100.7"


@override_settings(TRUSTED_PROXIES=PROXIES)
def test_a_client_that_is_not_a_proxy_cannot_speak_for_another() -> None:
    assert address_of("198.51.100.7", "203.0.113.9") == "198.51.100.7"


@override_settings(TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        # The ingress says who connected to it.
        ("10.1.2.3", "203.0.113.9", "203.0.113.9"),
        # What the client wrote itself is left of that, and ignored.
        ("10.1.2.3", "1.1.1.1, 8.8.8.8, 203.0.113.9", "203.0.113.9"),
        # Two trusted hops (load balancer, then ingress) are walked past.
        ("10.1.2.3", "6.6.6.6, 203.0.113.9, 192.0.2.1", "203.0.113.9"),
        ("10.1.2.3", "203.0.113.9,192.0.2.1,10.9.9.9", "203.0.113.9"),
        # No header: the proxy itself is the client (a probe, a job inside the cluster).
        ("10.1.2.3", None, "10.1.2.3"),
        # Only trusted hops: the furthest one.
        ("10.1.2.3", "10.4.4.4, 192.0.2.1", "10.4.4.4"),
        # Ports and brackets, as some proxies write them.
        ("10.1.2.3", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.1.2.3", "203.0.113.9:5123", "203.0.113.9"),
        # IPv4 mapped into IPv6 is the IPv4 address, on either side.
        ("::ffff:10.1.2.3", "::ffff:203.0.113.9", "203.0.113.9"),
        # IPv6 proxies and clients; a zone index is dropped.
        ("2001:db8:ff::5", "2001:DB8::0001", "2001:db8::1"),
        ("2001:db8:ff::5", "fe80::1%eth0", "fe80::1"),
    ],
)
def test_behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client(
    remote: str, forwarded: str | None, client: str
) -> None:
    assert address_of(remote, forwarded) == client


@override_settings(TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.9, garbage", "10.1.2.3"),
        ("203.0.113.9, , 192.0.2.1", "192.0.2.1"),
        ("6.6.6.6, unknown, 192.0.2.1", "192.0.2.1"),
        ("", "10.1.2.3"),
    ],
)
def test_garbage_stops_the_walk_at_the_last_trusted_hop(forwarded: str, client: str) -> None:
    """What lies left of an entry that is no address is whatever the client wrote."""
    assert address_of("10.1.2.3", forwarded) == client


@pytest.mark.parametrize("remote", ["", "unix:/run/gunicorn.sock", "localhost"])
def test_a_remote_address_that_is_not_one_is_counted_as_unknown(remote: str) -> None:
    assert address_of(remote, "203.0.113.9") == UNKNOWN_ADDRESS


def test_trusted_proxies_are_read_as_a_list() -> None:
    environment = {**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1,"}
    program = "from django.conf import settings; print(settings.TRUSTED_PROXIES)"
    result = run_django(environment, "shell", "-c", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['10.0.0.0/8', '192.0.2.1']"


def test_a_bad_trusted_proxy_stops_start_up() -> None:
    result = run_django({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8,ingress"}, "check")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'ingress' is not an address or a network" in result.stderr


ADDRESSES = st.ip_addresses().map(str)
ENTRIES = ADDRESSES | st.sampled_from(["10.1.2.3", "192.0.2.1", "2001:db8:ff::1"]) | st.text()


def named_by(client: str, texts: list[str]) -> bool:
    """Whether ``client`` is one of the addresses written in ``texts`` (or inside one, with a
    port or brackets around it)."""
    return any(client == canonical(text) or client in text for text in texts)


def canonical(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip().split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


@override_settings(TRUSTED_PROXIES=PROXIES)
@given(
    remote=ADDRESSES | st.sampled_from(["10.1.2.3", "::ffff:10.0.0.1"]) | st.text(),
    forwarded=st.lists(ENTRIES, max_size=6).map(", ".join) | st.text(),
)
def test_any_header_gives_a_valid_address_the_request_names(remote: str, forwarded: str) -> None:
    client = address_of(remote, forwarded)
    assert str(ipaddress.ip_address(client)) == client
    assert client == UNKNOWN_ADDRESS or named_by(client, [remote, *forwarded.split(",")])


@given(remote=ADDRESSES | st.text(), forwarded=st.text())
def test_without_trusted_proxies_any_header_gives_the_remote_address(
    remote: str, forwarded: str
) -> None:
    client = address_of(remote, forwarded)
    assert str(ipaddress.ip_address(client)) == client
    assert client == UNKNOWN_ADDRESS or named_by(client, [remote])
