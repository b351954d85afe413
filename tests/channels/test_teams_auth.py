"""Token validation against a local key set (keys generated with cryptography)."""

from __future__ import annotations

import pytest

from assistant.channels.teams_auth import ALGORITHMS, AuthError, BotFrameworkTokenValidator, JwksCache
from tests.channels.fake_connector import APP_ID, FakeConnector


def validator(connector: FakeConnector) -> BotFrameworkTokenValidator:
    keys = JwksCache(connector.openid_url, timeout=5, min_refresh_interval=0)
    return BotFrameworkTokenValidator(APP_ID, keys)


async def check(connector: FakeConnector, token: str, service_url: str | None = None,
                channel_id: str = "msteams", v: BotFrameworkTokenValidator | None = None) -> dict:
    return await (v or validator(connector)).validate(
        f"Bearer {token}", service_url or connector.service_url, channel_id)


def test_the_algorithm_list_is_fixed() -> None:
    assert ALGORITHMS == ("RS256",)


async def test_a_valid_token_passes(connector: FakeConnector) -> None:
    claims = await check(connector, connector.sign())
    assert claims["aud"] == APP_ID
    assert claims["iss"] == "https://api.botframework.com"


async def test_service_url_comparison_ignores_a_trailing_slash(connector: FakeConnector) -> None:
    await check(connector, connector.sign(connector.base_url), service_url=connector.base_url + "/")


@pytest.mark.parametrize(
    ("case", "sign_kwargs"),
    [
        ("wrong signature", {"key": "rogue"}),
        ("alg none", {"alg": "none"}),
        ("HS256 keyed with the public key", {"alg": "HS256-public"}),
        ("wrong issuer", {"issuer": "https://evil.example"}),
        ("wrong audience", {"audience": "some-other-bot"}),
        ("expired", {"expires_in": -3600}),
    ],
)
async def test_bad_tokens_are_rejected(connector: FakeConnector, case: str, sign_kwargs: dict) -> None:
    with pytest.raises(AuthError):
        await check(connector, connector.sign(**sign_kwargs))


async def test_a_tampered_token_is_rejected(connector: FakeConnector) -> None:
    header, _payload, signature = connector.sign().split(".")
    # A payload that would pass every claim check, with the signature of another payload.
    other_payload = connector.sign(expires_in=7 * 24 * 3600).split(".")[1]
    with pytest.raises(AuthError, match="Signature verification failed"):
        await check(connector, f"{header}.{other_payload}.{signature}")


async def test_service_url_mismatch_is_rejected(connector: FakeConnector) -> None:
    token = connector.sign("https://smba.trafficmanager.net/emea/")
    with pytest.raises(AuthError, match="serviceUrl"):
        await check(connector, token, service_url=connector.service_url)


async def test_missing_service_url_claim_is_rejected(connector: FakeConnector) -> None:
    token = connector.sign(extra={"serviceUrl": None})
    with pytest.raises(AuthError):
        await check(connector, token)


async def test_key_not_endorsed_for_the_channel_is_rejected(connector: FakeConnector) -> None:
    with pytest.raises(AuthError, match="endorsed"):
        await check(connector, connector.sign(), channel_id="webchat")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer not.a.jwt"])
async def test_missing_or_malformed_authorization_is_rejected(connector: FakeConnector, header) -> None:
    with pytest.raises(AuthError):
        await validator(connector).validate(header, connector.service_url, "msteams")


async def test_unknown_kid_refetches_the_key_set_once_then_fails(connector: FakeConnector) -> None:
    v = validator(connector)
    await check(connector, connector.sign(), v=v)
    fetched = v.keys.fetch_count
    with pytest.raises(AuthError, match="unknown signing key"):
        await check(connector, connector.sign(key="rogue", kid="no-such-key"), v=v)
    assert v.keys.fetch_count == fetched + 1


async def test_key_rotation_is_picked_up_by_refetching(connector: FakeConnector) -> None:
    v = validator(connector)
    await check(connector, connector.sign(), v=v)
    connector.rotate()
    await check(connector, connector.sign(), v=v)  # new kid: refetched, accepted
    await check(connector, connector.sign(key="old"), v=v)  # old key still published


async def test_unknown_kids_do_not_hammer_the_key_endpoint(connector: FakeConnector) -> None:
    keys = JwksCache(connector.openid_url, timeout=5, min_refresh_interval=3600)
    v = BotFrameworkTokenValidator(APP_ID, keys)
    await check(connector, connector.sign(), v=v)
    for attempt in range(5):
        with pytest.raises(AuthError):
            await check(connector, connector.sign(key="rogue", kid=f"random-{attempt}"), v=v)
    assert keys.fetch_count == 1


async def test_unreachable_key_endpoint_rejects_instead_of_crashing() -> None:
    keys = JwksCache("http://127.0.0.1:9/openid", timeout=1, min_refresh_interval=0)
    v = BotFrameworkTokenValidator(APP_ID, keys)
    connector = FakeConnector()  # not started: only used to sign
    with pytest.raises(AuthError, match="unknown signing key"):
        await v.validate(f"Bearer {connector.sign('http://x/')}", "http://x/", "msteams")


def test_an_app_id_is_required() -> None:
    with pytest.raises(ValueError):
        BotFrameworkTokenValidator("", JwksCache("http://127.0.0.1:9/openid"))
