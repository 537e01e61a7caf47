"""Callback URL safety, shared by the API (checked at upload) and the sender (checked again before every attempt,
since DNS may have changed): an absolute http(s) URL without credentials, whose host resolves only to public
addresses. The sender POSTs to the address that was checked (webhooks/delivery.py), so a second DNS answer
cannot point it elsewhere.

Standard library only: the API imports it without the delivery code, httpx or Celery.
"""

from __future__ import annotations

import ipaddress
import socket
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(Exception):
    """The callback URL is not one this service may POST to; the message says why. `transient`: it may be
    accepted later (its host did not resolve)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


# Special-purpose IPv6 prefixes that carry an IPv4 address (RFC 6052, 3056, 4380): a webhook to one reaches
# that IPv4 address through a gateway, so the IPv4 address inside must be public too.
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Refused whatever ipaddress' tables say (they have changed between Python versions).
NEVER = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "198.18.0.0/15", "192.0.0.0/24", "240.0.0.0/4", "fec0::/10", "::/96")
)


def tunnelled_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, Teredo or NAT64 address reaches through its gateway, else None."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address (the server's is public by construction)
    if any(address in net for net in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not go to this address (None: it may): anything but a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # the very host of its IPv4 address
            return refusal(address.ipv4_mapped)
        inner = tunnelled_ipv4(address)
        why = refusal(inner) if inner is not None else None
        if why:
            return f"{address} reaches {why}"
    for kind, bad in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("special-purpose", any(address in net for net in NEVER)),
        ("not globally routable", not address.is_global),
    ):
        if bad:
            return f"{address} is a {kind} address" if kind != "not globally routable" else f"{address} is {kind}"
    return None


@dataclass(frozen=True)
class Target:
    url: str  # as given
    scheme: str
    host: str  # the name (or address) in the URL
    port: int
    addresses: list[IPAddress]  # what it resolved to, every one checked


def parse_callback(url: str, name: str = "callback_url") -> tuple[str, str, int]:
    """Scheme, host and port of a callback URL; CallbackRefused for anything but an absolute http(s) URL.
    `name`: what the URL is called in the messages (the API's urlSource goes through the same checks)."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"{name} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"{name} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise CallbackRefused(f"{name} must be an http:// or https:// URL")
    bad = next((c for c in url if c.isspace() or unicodedata.category(c)[0] == "C"), None)
    if bad is not None:
        # urlsplit would drop some of these (tabs, CR, LF, leading spaces) and parse what is left, while the URL
        # as given is what is stored, shown and sent again.
        raise CallbackRefused(f"{name} must not contain spaces or control characters (found {bad!r})")
    if not parts.hostname:
        raise CallbackRefused(f"{name} has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused(f"{name} must not contain credentials")
    if port == 0:
        raise CallbackRefused(f"{name} port must be 1-65535")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, name: str = "callback_url") -> list[IPAddress]:
    """Every address `host` resolves to (the address itself for a literal)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"{name} host '{host}' does not resolve: {exc}", transient=True) from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone index
        if address not in found:
            found.append(address)
    return found


def check_callback(
    url: str, allow_private: bool, name: str = "callback_url", allow_setting: str = "OCR_WEBHOOK_ALLOW_PRIVATE"
) -> Target:
    """Parse and resolve a callback URL and check every address; CallbackRefused says what is wrong. `name` and
    `allow_setting`: what the messages call the URL and the setting that lets private addresses through."""
    scheme, host, port = parse_callback(url, name)
    addresses = resolve(host, port, name)
    if not addresses:
        raise CallbackRefused(f"{name} host '{host}' has no address")
    if not allow_private:
        for address in addresses:
            why = refusal(address)
            if why:
                raise CallbackRefused(f"{name} host '{host}' is not allowed: {why} ({allow_setting}=true allows it)")
    return Target(url, scheme, host, port, addresses)


def pinned_request(target: Target) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL, Host header and httpx extensions of a request to the first checked address of `target`: the
    host name stays in the Host header and in TLS (SNI), so a second DNS answer cannot point it elsewhere."""
    address = target.addresses[0]
    host_in_url = f"[{address}]" if address.version == 6 else str(address)
    parts = urlsplit(target.url)
    url = urlunsplit((parts.scheme, f"{host_in_url}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host and not target.host.startswith("["):
        host_header = f"[{target.host}]" + ("" if target.port == default_port else f":{target.port}")
    extensions: dict[str, Any] = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url, {"Host": host_header}, extensions
