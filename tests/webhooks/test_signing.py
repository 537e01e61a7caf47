"""Webhook signatures: the HMAC, what a receiver verifies, and the README's receiver example."""

from __future__ import annotations

import hashlib
import hmac
import time

from tests.support import REPO
from webhooks.signing import signature, verify


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id": "abc", "status": "succeeded"}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("secret", 1700000000, body) == f"sha256={expected}"


def test_verify_rejects_other_secrets_bodies_and_old_or_odd_timestamps() -> None:
    body = b'{"status": "failed"}'
    now = int(time.time())
    header = signature("secret", now, body)
    assert verify("secret", str(now), body, header)
    assert not verify("secreT", str(now), body, header)
    assert not verify("secret", str(now), body + b"\n", header)
    assert not verify("secret", str(now + 1), body, header)
    old = now - 3600
    assert not verify("secret", str(old), body, signature("secret", old, body))
    assert not verify("secret", "yesterday", body, header)


def test_the_documented_receiver_verifies_what_the_service_signs() -> None:
    doc = (REPO / "docs" / "api.md").read_text()
    section = doc[doc.index("## Webhooks") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    namespace: dict[str, object] = {"__name__": "readme_receiver"}
    exec(code[: code.index("```")], namespace)  # the doc's own example
    readme_verify = namespace["verify"]
    body = b'{"id": "j", "status": "succeeded"}'
    now = int(time.time())
    headers = {"X-OCR-Timestamp": str(now), "X-OCR-Signature": signature("the webhook secret", now, body)}
    assert readme_verify(headers, body)  # type: ignore[operator]
    assert not readme_verify(headers, body + b"x")  # type: ignore[operator]
    assert not readme_verify({**headers, "X-OCR-Timestamp": str(now - 3600)}, body)  # type: ignore[operator]
    assert not readme_verify({}, body)  # type: ignore[operator]
