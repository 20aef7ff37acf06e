"""URLs a retailer types: one strict reading, a normal form, and a coded error for the rest."""

import ipaddress
import socket
from typing import Any

import httpx
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from crm_sync.addresses import address_is_public
from crm_sync.endpoints import UrlError, UrlRole, settings_normalise, url_host, url_normalise
from crm_sync.http import BlockedAddressError, address_check


def full_width(text: str) -> str:
    """The same text in full-width forms (U+FF01 on), which IDNA maps back to ASCII."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  https://hooks.example.com/in?shop=1  ", "https://hooks.example.com/in?shop=1"),
        ("HTTPS://Hooks.EXAMPLE.com:443/In", "https://hooks.example.com/In"),
        ("http://example.com:80", "http://example.com"),
        ("http://example.com:0080/x", "http://example.com/x"),
        ("https://example.com:8443/x#section", "https://example.com:8443/x"),
        ("https://Bücher.example/hook", "https://xn--bcher-kva.example/hook"),
        ("http://[2001:DB8:0:0::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        (f"http://{full_width('127.0.0.1')}/", "http://127.0.0.1/"),
        ("http://my_host.internal/x", "http://my_host.internal/x"),
        ("https://example.com/ünïcode?q=ä", "https://example.com/ünïcode?q=ä"),
    ],
)
def test_a_url_is_stored_in_its_normal_form(typed: str, stored: str) -> None:
    assert url_normalise(typed, block_private=False) == stored
    assert url_normalise(stored, block_private=False) == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        # The three of the issue: each once saved, then a 500 and deliveries that looped.
        ("http://[::1/x", "invalid_host"),
        ("http://a..b/x", "invalid_host"),
        ("http://127.000.000.001/", "ambiguous_ip_address"),
        # Other spellings of an IPv4 address that resolvers and browsers read as 127.0.0.1.
        ("http://127.1/", "ambiguous_ip_address"),
        ("http://0x7f.1/", "ambiguous_ip_address"),
        ("http://2130706433/", "ambiguous_ip_address"),
        ("http://0177.0.0.1/", "ambiguous_ip_address"),
        ("http://1.2.3.4.5/", "ambiguous_ip_address"),
        ("http://example.0x/", "ambiguous_ip_address"),
        ("ftp://example.com/", "unsupported_scheme"),
        ("example.com/hook", "unsupported_scheme"),
        ("not a url", "unsupported_scheme"),
        ("javascript://example.com/", "unsupported_scheme"),
        ("http://user:secret@example.com/", "userinfo"),
        ("http://example.com\\@evil.example/", "userinfo"),
        ("http://example.com:0/", "invalid_port"),
        ("http://example.com:65536/", "invalid_port"),
        ("http://example.com:http/", "invalid_port"),
        ("http://example.com:/", "invalid_port"),
        ("http://[::1]]/", "invalid_host"),
        ("http://]::1[/", "invalid_host"),
        ("http://[fe80::1%25eth0]/", "invalid_host"),
        ("http://[example.com]/", "invalid_host"),
        ("http://::1/", "invalid_host"),
        ("http:///path", "invalid_host"),
        ("http://example.com./", "invalid_host"),
        ("http://.example.com/", "invalid_host"),
        ("http://-bad.example.com/", "invalid_host"),
        ("http://ex%41mple.com/", "invalid_host"),
        ("http://xn--zz.example/", "invalid_host"),
        ("http://" + "a" * 64 + ".example/", "invalid_host"),
        ("http://exa mple.com/", "invalid_url"),
        ("http://example.com/a b", "invalid_url"),
        ("http://example.com/\x00", "invalid_url"),
        ("http://example.com/\u202e", "invalid_url"),
        ("http://example.com/" + "a" * 2000, "too_long"),
    ],
)
def test_a_url_that_cannot_be_read_one_way_is_refused_with_a_code(typed: str, code: str) -> None:
    with pytest.raises(UrlError) as error:
        url_normalise(typed, block_private=False)
    assert error.value.code == code
    assert error.value.message


def test_an_ambiguous_address_says_how_it_reads() -> None:
    with pytest.raises(UrlError, match=r"It reads as 127\.0\.0\.1\."):
        url_normalise("http://127.1/", block_private=False)


@pytest.mark.parametrize(
    "typed",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:7f00:1::1]/",
        f"http://{full_width('169.254.169.254')}/",
    ],
)
def test_a_private_literal_address_is_refused_when_saved_in_production(typed: str) -> None:
    with pytest.raises(UrlError) as error:
        url_normalise(typed, block_private=True)
    assert error.value.code == "private_address"
    # Outside production (tests, make run) the loopback fakes are allowed.
    assert url_normalise(typed, block_private=False)


def test_the_production_setting_is_the_default(settings: Any) -> None:
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = True
    with pytest.raises(UrlError):
        url_normalise("http://127.0.0.1/")
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = False
    assert url_normalise("http://127.0.0.1/") == "http://127.0.0.1/"


def test_an_api_address_takes_no_query_or_fragment() -> None:
    """Paths are appended to it: ``?x`` or ``#x`` would swallow them."""
    for typed in ("https://api.example.com?x=1", "https://api.example.com/#top"):
        with pytest.raises(UrlError) as error:
            url_normalise(typed, role=UrlRole.API_BASE)
        assert error.value.code == "query_not_allowed"
    assert url_normalise("https://API.example.com/v3", role=UrlRole.API_BASE) == (
        "https://api.example.com/v3"
    )


def test_settings_are_normalised_by_role_and_errors_named_by_field() -> None:
    roles = {"url": UrlRole.ENDPOINT, "base_url": UrlRole.API_BASE, "login_url": UrlRole.API_BASE}
    normal, errors = settings_normalise(
        {"url": " HTTPS://Example.com/x ", "base_url": "", "login_url": "http://a..b", "other": 1},
        roles,
    )
    assert normal == {
        "url": "https://example.com/x",
        "base_url": "",
        "login_url": "http://a..b",
        "other": 1,
    }
    assert list(errors) == ["login_url"]
    assert errors["login_url"][0]["code"] == "invalid_host"
    # Settings are JSON: a number where a URL belongs is refused too, not skipped.
    _, errors = settings_normalise({"url": 8080, "base_url": None}, roles)
    assert errors == {
        "url": [{"code": "invalid_url", "message": "Give an http:// or https:// URL."}]
    }


def test_url_host_is_the_normal_host_or_none() -> None:
    assert url_host("https://Login.Salesforce.com/") == "login.salesforce.com"
    assert url_host("http://[::1/x") is None
    assert url_host("") is None


# --- fuzzing ------------------------------------------------------------------------------------

_HOSTS = st.one_of(
    st.from_regex(r"[a-zA-Z0-9._~%-]{0,20}", fullmatch=True),
    st.from_regex(
        r"(0x[0-9a-f]{0,3}|0?[0-9]{1,4})(\.(0x[0-9a-f]{0,3}|0?[0-9]{1,4})){0,4}", fullmatch=True
    ),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    st.from_regex(r"\[[0-9a-fA-F:.%]{0,30}\]?", fullmatch=True),
    st.text(max_size=12),
)


def _mostly(usual: list[str], odd: list[str]) -> st.SearchStrategy[str]:
    """Mostly usual parts, so that a good share of whole URLs are valid."""
    return st.sampled_from(usual * 4 * len(odd) + odd)


_URLISH = st.builds(
    "{}{}{}{}{}{}".format,
    _mostly(["http://", "https://", "HTTP://"], ["ftp://", "http:/", "", " http://"]),
    _mostly([""], ["user@", "u:p@", "@"]),
    _HOSTS,
    _mostly(["", ":8080", ":443"], [":", ":0", ":65535", ":65536", ":-1", ":x"]),
    _mostly(["", "/", "/hook", "/ü"], ["/a b", "/%zz", "/\\x"]),
    _mostly(["", "?a=1"], ["?", "#", "#frag", "?q#f"]),
)


def _resolver_reads_as_address(host: str) -> bool:
    try:
        socket.getaddrinfo(host, 80, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return False
    return True


def _check_consistency(normal: str, *, block_private: bool) -> None:
    parsed = httpx.URL(normal)
    assert parsed.scheme in ("http", "https")
    host = parsed.raw_host.decode("ascii")
    assert host
    assert normal == url_normalise(normal, block_private=block_private), "not idempotent"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # A name: the resolver must not read it as a number (``127.1``, ``0x7f.1`` ...), so
        # the send-time check is what judges the addresses it resolves to.
        assert not _resolver_reads_as_address(host), host
        return
    # A literal: the send-time check (which resolves nothing) agrees with the save-time one.
    public = address_is_public(str(ip))
    if block_private:
        assert public
    try:
        assert ipaddress.ip_address(address_check(normal)) == ip
        assert public
    except BlockedAddressError:
        assert not public


def _normalise_or_error(text: str, *, role: UrlRole, block_private: bool) -> str | UrlError:
    """The normal form or the UrlError; any other exception fails the test."""
    try:
        return url_normalise(text, role=role, block_private=block_private)
    except UrlError as error:
        return error


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=60), _URLISH), block_private=st.booleans())
@example(text="http://[::1/x", block_private=False)
@example(text="http://a..b/x", block_private=False)
@example(text="http://127.000.000.001/", block_private=True)
@example(text="http://[::ffff:127.0.0.1]/", block_private=False)
@example(text="http://\ud800.example/", block_private=False)
@example(text="http://ß.example/", block_private=False)
def test_any_text_is_a_normal_url_or_a_url_error(text: str, block_private: bool) -> None:
    for role in UrlRole:
        outcome = _normalise_or_error(text, role=role, block_private=block_private)
        if isinstance(outcome, UrlError):
            assert outcome.code
            assert outcome.message
            event(f"refused: {outcome.code}")
        else:
            event("normalised")
            _check_consistency(outcome, block_private=block_private)
