"""Callback URL safety: which addresses are refused, a name checked by every address, malformed URLs."""

from __future__ import annotations

import ipaddress

import pytest

from webhooks.urls import CallbackRefused, check_callback, refusal


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_name_is_checked_by_every_address_it_resolves_to() -> None:
    with pytest.raises(CallbackRefused, match="loopback"):
        check_callback("http://localhost:9000/hook", allow_private=False)
    target = check_callback("http://localhost:9000/hook", allow_private=True)
    assert target.port == 9000 and all(a.is_loopback for a in target.addresses)
    with pytest.raises(CallbackRefused, match="does not resolve") as refused:
        check_callback("https://no-such-host.invalid/hook", allow_private=True)
    assert refused.value.transient


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://example.com/", "http:// or https://"),
        ("http:///path-only", "no host"),
        ("http://a:b@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_malformed_callback_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        check_callback(url, allow_private=True)
