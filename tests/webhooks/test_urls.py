"""Callback URL safety: which addresses are refused, a name checked by every address, malformed URLs; the
special-purpose classes and odd URLs refused by the sender too, and at upload by a real API process (422)."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator

import httpx
import pytest

from tests.support import api_process, base_env, corpus_file, temporary_pg_database
from tests.webhook_receiver import WebhookReceiver
from tests.webhooks.test_delivery import record
from webhooks import delivery
from webhooks.urls import CallbackRefused, check_callback, refusal
from workers.settings import get_worker_settings


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


# One address of every class that is not a public unicast address, and why it is refused.
SPECIAL_ADDRESSES = [
    ("fec0::1", "site-local (deprecated, still routed inside some networks)"),
    ("2002:a00:1::1", "6to4 embedding 10.0.0.1"),
    ("2002:7f00:1::1", "6to4 embedding 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 embedding 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo with client 10.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 mapping 10.0.0.1"),
    ("64:ff9b::7f00:1", "NAT64 mapping 127.0.0.1"),
    ("64:ff9b:1::a9fe:a9fe", "local-use NAT64 mapping 169.254.169.254"),
    ("::ffff:192.168.0.1", "IPv4-mapped private"),
    ("::127.0.0.1", "IPv4-compatible loopback"),
    ("0.1.2.3", "this network, 0.0.0.0/8"),
    ("100.64.0.1", "shared address space (carrier-grade NAT)"),
    ("100.127.255.254", "shared address space, its end"),
    ("198.18.0.1", "benchmarking, 198.18/15"),
    ("198.19.255.254", "benchmarking, its end"),
    ("192.0.0.8", "IETF protocol assignments, 192.0.0/24"),
    ("192.0.2.1", "documentation"),
    ("239.255.255.250", "multicast (SSDP)"),
    ("ff05::2", "IPv6 multicast"),
    ("240.0.0.1", "reserved"),
    ("100::1", "discard-only"),
]
PUBLIC_TUNNELLED = ["2002:808:808::1"]  # 6to4 of 8.8.8.8: the tunnel reaches a public address


@pytest.mark.parametrize(("address", "kind"), SPECIAL_ADDRESSES)
def test_special_purpose_addresses_are_refused(address: str, kind: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None, kind
    url = f"http://[{address}]:8080/hook" if ":" in address else f"http://{address}:8080/hook"
    with pytest.raises(CallbackRefused, match="not allowed"):
        check_callback(url, allow_private=False)


def test_a_tunnel_to_a_private_address_names_it() -> None:
    why = refusal(ipaddress.ip_address("2002:a00:1::1"))
    assert why is not None and "10.0.0.1" in why and "private" in why


# URLs that urlsplit would quietly repair (it drops tabs, CR and LF, and strips leading spaces), port 0 (which
# became 80), and other characters no URL holds: refused as given, even where private addresses are allowed.
ODD_URLS = [
    ("http://example.com/hook\r\nX-Injected: 1", "control characters"),
    ("http://example.com/\nhook", "control characters"),
    ("http://exa\tmple.com/hook", "control characters"),
    (" http://example.com/hook", "control characters"),
    ("http://example.com/hook ", "control characters"),
    ("http://example.com/ho ok", "control characters"),
    ("http://example.com/hook\x00", "control characters"),
    ("http://example.com/hook\x7f", "control characters"),
    ("http://example.com/\u200bhook", "control characters"),
    ("http://example.com/\x85hook", "control characters"),
    ("http://example.com:0/hook", "port must be 1-65535"),
    ("http://127.0.0.1:0/hook", "port must be 1-65535"),
]


@pytest.mark.parametrize(("url", "why"), ODD_URLS)
def test_odd_urls_are_refused_not_repaired(url: str, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        check_callback(url, allow_private=True)


def test_public_tunnelled_and_plain_urls_still_pass() -> None:
    for address in PUBLIC_TUNNELLED:
        assert refusal(ipaddress.ip_address(address)) is None
    assert check_callback("https://[2606:4700:4700::1111]:8443/hook?a=b%20c", allow_private=False).port == 8443


# -- at delivery: the sender checks again and sends nothing --------------------------------------------------


@pytest.fixture
def strict_sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("OCR_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "false")
    get_worker_settings.cache_clear()
    with WebhookReceiver() as receiver:
        yield receiver
    get_worker_settings.cache_clear()


@pytest.mark.parametrize("address", [a for a, _ in SPECIAL_ADDRESSES])
def test_delivery_refuses_every_special_purpose_address(strict_sender: WebhookReceiver, address: str) -> None:
    url = f"http://[{address}]/hook" if ":" in address else f"http://{address}/hook"
    outcome = delivery.attempt_delivery(record(callback_url=url), 1)
    assert outcome.final and outcome.status_code is None and "not allowed" in (outcome.error or "")


@pytest.mark.parametrize(("url", "why"), ODD_URLS)
def test_delivery_refuses_odd_urls_recorded_before_the_filter(
    strict_sender: WebhookReceiver, url: str, why: str
) -> None:
    # A record made before this check (or edited in the database) holds such a URL: nothing is sent.
    outcome = delivery.attempt_delivery(record(callback_url=url), 1)
    assert outcome.final and outcome.status_code is None and why.split()[0] in (outcome.error or "")
    assert strict_sender.requests == []


# -- at upload: a real API process answers 422 and stores nothing ----------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def strict_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    # On both databases: a NUL in a callback_url was a 500 on PostgreSQL, which refuses NUL in text. A database of
    # its own: the tests below expect no job but their own.
    with contextlib.ExitStack() as stack:
        database = {}
        if request.param == "postgresql":
            database["OCR_DATABASE_URL"] = stack.enter_context(temporary_pg_database("ocr_urls"))
        env = base_env(tmp_path_factory.mktemp("urls-strict"), OCR_WEBHOOK_SECRET="s", **database)
        yield stack.enter_context(api_process(env))


def _upload(client: httpx.Client, callback_url: str) -> httpx.Response:
    with corpus_file("pyt_test.png").open("rb") as fh:
        return client.post("/v1/jobs", files={"file": ("a.png", fh)}, data={"callback_url": callback_url})


@pytest.mark.parametrize(
    "url",
    [f"http://[{a}]/hook" if ":" in a else f"http://{a}/hook" for a, _ in SPECIAL_ADDRESSES]
    + [u.replace("example.com", "8.8.8.8") for u, _ in ODD_URLS],
)
def test_upload_refuses_special_addresses_and_odd_urls(strict_api: httpx.Client, url: str) -> None:
    # The odd URLs with a public literal address, so that no failed DNS lookup refuses them first (and no job
    # runs: nothing consumes this API's queue).
    response = _upload(strict_api, url)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and "callback_url" in error["message"], error
    assert strict_api.get("/v1/jobs").json()["jobs"] == []


def test_the_upload_test_api_takes_a_public_callback(strict_api: httpx.Client) -> None:
    # The refusals above are the filter's, not a broken upload: a public literal address is accepted.
    response = _upload(strict_api, "http://8.8.8.8:8080/hook")
    assert response.status_code == 202, response.text
    assert strict_api.delete(f"/v1/jobs/{response.json()['id']}").status_code == 204
