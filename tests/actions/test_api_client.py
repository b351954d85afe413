"""The API client and settings, against a real local HTTP server."""

from __future__ import annotations

import time

import pytest

from actions.api_client import ApiClient, ApiError, get_api_client
from actions.settings import DEFAULT_API_URL, Settings, get_settings
from tests.actions.conftest import FakeApi
from tests.actions.helpers import HOLDERS, LOCATIONS, SERVICE_TOKEN


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COA_API_URL", "COA_SERVICE_TOKEN", "COA_API_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert get_settings() == Settings(api_url=DEFAULT_API_URL, service_token=None, timeout=5.0)


def test_settings_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_URL", "http://api.example:9000/")
    monkeypatch.setenv("COA_SERVICE_TOKEN", "abc")
    monkeypatch.setenv("COA_API_TIMEOUT", "2.5")
    assert get_settings() == Settings("http://api.example:9000", "abc", 2.5)
    monkeypatch.setenv("COA_API_TIMEOUT", "vijf")
    assert get_settings().timeout == 5.0


def test_record_incident_posts_with_the_service_token(fake_api: FakeApi) -> None:
    client = get_api_client()
    incident = client.record_incident({"idempotency_key": "k1", "protocol": "eergerelateerd_geweld"})
    assert incident["reference"] == "EGG-20261129-0001"
    again = client.record_incident({"idempotency_key": "k1", "protocol": "eergerelateerd_geweld"})
    assert again == incident
    assert [r["authorization"] for r in fake_api.requests] == [f"Bearer {SERVICE_TOKEN}"] * 2
    assert len(fake_api.incidents) == 1


def test_locations_are_cached_for_their_ttl(fake_api: FakeApi) -> None:
    client = ApiClient(get_settings(), locations_ttl=0.2)
    try:
        assert client.locations() == LOCATIONS
        assert client.locations() == LOCATIONS
        assert fake_api.count("GET", "/api/v1/locations") == 1
        time.sleep(0.25)
        client.locations()
        assert fake_api.count("GET", "/api/v1/locations") == 2
    finally:
        client.close()


def test_key_position_holders(fake_api: FakeApi) -> None:
    assert get_api_client().key_position_holders("TERAPEL") == HOLDERS["TERAPEL"]
    with pytest.raises(ApiError):
        get_api_client().key_position_holders("ONBEKEND")


def test_error_status_raises_api_error(fake_api: FakeApi) -> None:
    fake_api.fail_status = 422
    with pytest.raises(ApiError, match="422"):
        get_api_client().record_incident({"idempotency_key": "k"})


def test_missing_token_is_refused_by_the_api(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COA_SERVICE_TOKEN")
    with pytest.raises(ApiError, match="401"):
        get_api_client().locations()


def test_unreachable_api_raises_api_error(api_down: None) -> None:
    with pytest.raises(ApiError):
        get_api_client().locations()


def test_slow_api_times_out(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COA_API_TIMEOUT", "0.2")
    fake_api.delay = 0.6
    started = time.monotonic()
    with pytest.raises(ApiError):
        get_api_client().locations()
    assert time.monotonic() - started < 0.6


def test_one_client_is_reused_until_the_settings_change(fake_api: FakeApi,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_api_client()
    assert get_api_client() is first
    monkeypatch.setenv("COA_API_TIMEOUT", "3")
    assert get_api_client() is not first
