"""The development REST channel's refusals, without a Rasa server (the same attacks
against the running stack: tests/e2e/test_rest_channel.py)."""

from __future__ import annotations

import json

import pytest

from assistant.channels.rest import MAX_BODY_BYTES, DevRestInput, RestChannelRefused, check_request, client_metadata

JSON = "application/json"


def body(**values: object) -> bytes:
    return json.dumps({"sender": "demo-1", "message": "hallo", **values}).encode()


def test_a_contract_request_from_loopback_passes() -> None:
    data, refusal = check_request(JSON, body(metadata={"location": "TERAPEL"}), "127.0.0.1")
    assert refusal is None and data is not None and data["sender"] == "demo-1"
    assert check_request("application/json; charset=utf-8", body(), "::1")[1] is None
    assert check_request(JSON, body(), "::ffff:127.0.0.1")[1] is None


@pytest.mark.parametrize(("content_type", "raw", "ip", "status"), [
    (JSON, body(), "192.0.2.10", 403),                     # not loopback
    (JSON, body(), None, 403),
    (JSON, body(), "::ffff:192.0.2.10", 403),
    ("text/plain", body(), "127.0.0.1", 415),              # cross-origin form post without preflight
    ("application/x-www-form-urlencoded", b"sender=a", "127.0.0.1", 415),
    (JSON, body(message="x" * 100_000), "127.0.0.1", 413),  # 100 KB message
    (JSON, b"{" + b" " * MAX_BODY_BYTES + b"}", "127.0.0.1", 413),
    (JSON, body(sender="wc-" + "a" * 24 + "-" + "b" * 32), "127.0.0.1", 422),  # a web chat conversation
    (JSON, body(sender="WC-abc"), "127.0.0.1", 422),
    (JSON, body(sender="teams-a:1xyz"), "127.0.0.1", 422),  # a Teams conversation
    (JSON, body(sender=""), "127.0.0.1", 422),
    (JSON, body(sender=["demo"]), "127.0.0.1", 422),
    (JSON, body(message=None), "127.0.0.1", 422),
    (JSON, b"[1, 2]", "127.0.0.1", 422),
    (JSON, b"{not json", "127.0.0.1", 400),
])
def test_refused(content_type: str, raw: bytes, ip: str | None, status: int) -> None:
    data, refusal = check_request(content_type, raw, ip)
    assert data is None and refusal is not None and refusal.status == status
    assert json.loads(refusal.body)["error"]


def test_the_client_never_sets_who_it_is_or_its_channel() -> None:
    sent = {"metadata": {"location": " TERAPEL ", "staff_id": "mdw-of-someone-else", "channel": "webchat",
                         "role": "supervisor"}, "input_channel": "webchat"}
    assert client_metadata(sent) == {"channel": "rest", "location": "TERAPEL"}
    assert client_metadata({"metadata": "TERAPEL"}) == {"channel": "rest"}


def test_the_channel_refuses_to_start_in_production() -> None:
    with pytest.raises(RestChannelRefused, match="development and tests only"):
        DevRestInput(environ={"COA_ENV": "production"})
    assert DevRestInput(environ={}).name() == "rest"
