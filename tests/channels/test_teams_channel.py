"""The Teams channel against the local fake Bot Connector, without a Rasa server:
authentication before processing, metadata, buttons, greeting, outgoing token."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from assistant.channels.teams import NOT_ON_STAFF_LIST, TeamsInput, TeamsSettings, service_url_trusted
from assistant.channels.teams_cards import button_cards, card_action, incoming_text
from assistant.channels.teams_identity import StaffLocations, staff_id
from tests.channels.fake_connector import APP_ID, APP_PASSWORD, TENANT, FakeConnector

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_LOCATIONS = ROOT / "assistant" / "channels" / "staff_locations.example.yml"
AAD_ZWOLLE = "0f1e2d3c-0000-4000-8000-00000000a002"
SALT = "test-salt"


def settings(connector: FakeConnector, **overrides: Any) -> TeamsSettings:
    values = {
        "app_id": APP_ID, "app_password": APP_PASSWORD, "tenant_id": TENANT, "staff_id_salt": SALT,
        "openid_config_url": connector.openid_url,
        "token_url": f"{connector.base_url}/{TENANT}/oauth2/v2.0/token",
        "trusted_service_urls": connector.base_url + "/",
        "staff_locations_file": str(EXAMPLE_LOCATIONS),
        "jwks_min_refresh_seconds": 0,
    }
    values.update(overrides)
    return TeamsSettings.from_mapping(values, environ={})


def activity(connector: FakeConnector, text: str = "hallo", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "message", "id": uuid.uuid4().hex, "channelId": "msteams",
        "serviceUrl": connector.service_url, "text": text,
        "from": {"id": "29:user", "name": "Test Begeleider", "aadObjectId": AAD_ZWOLLE},
        "recipient": {"id": f"28:{APP_ID}", "name": "COA casusbegeleider"},
        "conversation": {"id": "a:" + uuid.uuid4().hex, "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
    }
    body.update(overrides)
    return body


class Collector:
    def __init__(self, reply: bool = True) -> None:
        self.messages: list[UserMessage] = []
        self.reply = reply

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.reply:
            await message.output_channel.send_response(message.sender_id, {
                "text": "Is er nu direct gevaar?",
                "buttons": [{"title": "Ja", "payload": "/affirm"}, {"title": "Nee", "payload": "/deny"}],
            })


def replies_for(connector: FakeConnector, conversation_id: str) -> list[dict[str, Any]]:
    return [r["activity"] for r in connector.replies if r["conversation_id"] == conversation_id]


# -- settings


def test_single_tenant_token_endpoint_and_multi_tenant_default() -> None:
    single = TeamsSettings.from_mapping({"app_id": "a", "app_password": "p", "tenant_id": TENANT,
                                         "staff_id_salt": "s"}, environ={})
    assert single.token_endpoint == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert single.tenants == (TENANT,)
    multi = TeamsSettings.from_mapping({"app_id": "a", "app_password": "p", "staff_id_salt": "s"}, environ={})
    assert multi.token_endpoint == "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
    assert multi.tenants == ()
    assert multi.openid_config_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"


def test_settings_fall_back_to_the_environment_and_require_secrets() -> None:
    env = {"COA_TEAMS_APP_ID": "a", "COA_TEAMS_APP_PASSWORD": "pw-secret", "COA_TEAMS_STAFF_ID_SALT": "salt-secret",
           "COA_TEAMS_TRUSTED_SERVICE_URLS": "http://127.0.0.1:1/, https://smba.trafficmanager.net/"}
    loaded = TeamsSettings.from_mapping({"app_id": ""}, environ=env)
    assert (loaded.app_id, loaded.trusted_service_urls[0]) == ("a", "http://127.0.0.1:1/")
    with pytest.raises(ValueError, match="staff_id_salt"):
        TeamsSettings.from_mapping({"app_id": "a", "app_password": "p"}, environ={})
    assert "secret" not in repr(loaded), "secrets stay out of logs"


def test_service_url_allow_list_compares_host_and_path() -> None:
    trusted = ("https://smba.trafficmanager.net/",)
    assert service_url_trusted("https://smba.trafficmanager.net/emea/", trusted)
    assert not service_url_trusted("https://smba.trafficmanager.net.evil.example/emea/", trusted)
    assert not service_url_trusted("http://smba.trafficmanager.net/emea/", trusted)
    assert not service_url_trusted(None, trusted)


# -- cards, identity


def test_buttons_become_message_back_actions_and_clicks_map_back_to_payloads() -> None:
    action = card_action({"title": "Ja", "payload": "/affirm"})
    assert action == {"type": "messageBack", "title": "Ja", "text": "Ja", "displayText": "Ja",
                      "value": {"payload": "/affirm"}}
    choice = card_action({"title": "Dreiging", "payload": '/kies{"keuze": "dreiging"}'})
    click = {"type": "message", "text": choice["text"], "value": choice["value"]}
    assert incoming_text(click) == '/kies{"keuze": "dreiging"}'
    assert incoming_text({"text": "<at>COA</at> hallo "}) == "hallo"
    assert card_action({"title": "Bel", "payload": "tel:0800-2000"})["type"] == "openUrl"
    cards = button_cards("Kies", [{"title": str(i), "payload": f"/kies{{\"keuze\": \"{i}\"}}"} for i in range(8)])
    assert [len(c["content"]["buttons"]) for c in cards] == [6, 2]
    assert cards[0]["content"]["text"] == "Kies"


def test_staff_id_is_pseudonymous_stable_and_salted() -> None:
    one = staff_id(SALT, TENANT, AAD_ZWOLLE)
    assert one == staff_id(SALT, TENANT.upper(), AAD_ZWOLLE.upper()) and len(one) == 16
    assert one != staff_id("other-salt", TENANT, AAD_ZWOLLE)
    assert AAD_ZWOLLE.replace("-", "")[:8] not in one


def test_staff_locations_file(tmp_path: Path) -> None:
    assert StaffLocations(EXAMPLE_LOCATIONS).location_for(AAD_ZWOLLE.upper()) == "ZWOLLE"
    assert StaffLocations(EXAMPLE_LOCATIONS).location_for("unknown") is None
    assert StaffLocations(tmp_path / "missing.yml").location_for(AAD_ZWOLLE) is None
    broken = tmp_path / "broken.yml"
    broken.write_text("staff: [1, 2]\n")
    assert StaffLocations(broken).location_for(AAD_ZWOLLE) is None


# -- the channel end to end against the fake connector


async def test_signed_message_is_processed_with_metadata_and_answered_with_a_hero_card(
        connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector()
    body = activity(connector, "een bewoonster wordt bedreigd")
    status, _ = await channel.handle_activity(f"Bearer {connector.sign()}", body, collector)
    await channel.drain()
    assert status == 202
    [message] = collector.messages
    assert message.text == "een bewoonster wordt bedreigd"
    # Namespaced (issue 14): no REST sender can name a Teams conversation.
    assert message.sender_id == "teams-" + body["conversation"]["id"]
    assert message.input_channel == "teams"
    assert message.metadata == {"channel": "teams", "tenant": TENANT,
                                "staff_id": staff_id(SALT, TENANT, AAD_ZWOLLE), "location": "ZWOLLE",
                                "role": "counsellor", "conversation_reference": {
                                    "service_url": body["serviceUrl"], "conversation_id": body["conversation"]["id"],
                                    "bot_id": body["recipient"]["id"], "user_id": body["from"]["id"]}}
    assert AAD_ZWOLLE not in repr(message.metadata)

    [reply] = replies_for(connector, body["conversation"]["id"])
    card = reply["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.hero"
    assert card["content"]["text"] == "Is er nu direct gevaar?"
    assert [(b["type"], b["title"], b["value"]["payload"]) for b in card["content"]["buttons"]] == [
        ("messageBack", "Ja", "/affirm"), ("messageBack", "Nee", "/deny")]
    assert reply["replyToId"] == body["id"]
    assert reply["recipient"] == {"id": "29:user", "name": "Test Begeleider"}
    await channel.client.close()


async def test_outgoing_token_comes_from_the_configured_tenant(connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    await channel.handle_activity(f"Bearer {connector.sign()}", activity(connector), Collector())
    await channel.drain()
    assert connector.token_requests[-1] == {"tenant": TENANT, "client_id": APP_ID, "grant_type": "client_credentials",
                                            "scope": "https://api.botframework.com/.default"}
    await channel.client.close()


async def test_button_click_reaches_rasa_as_the_payload(connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector(reply=False)
    click = activity(connector, "Ja", value={"payload": "/affirm"})
    await channel.handle_activity(f"Bearer {connector.sign()}", click, collector)
    await channel.drain()
    assert [m.text for m in collector.messages] == ["/affirm"]


@pytest.mark.parametrize("sign_kwargs", [None, {"key": "rogue"}, {"alg": "none"}, {"alg": "HS256-public"},
                                         {"audience": "other"}, {"expires_in": -3600}])
async def test_unauthenticated_activities_get_401_and_are_not_processed(
        connector: FakeConnector, sign_kwargs: dict | None) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector()
    body = activity(connector)
    auth = f"Bearer {connector.sign(**sign_kwargs)}" if sign_kwargs is not None else None
    status, _ = await channel.handle_activity(auth, body, collector)
    await channel.drain()
    assert status == 401
    assert collector.messages == []
    assert replies_for(connector, body["conversation"]["id"]) == []


async def test_service_url_of_another_host_is_refused_even_if_signed(connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector()
    evil = "https://evil.example/"
    status, _ = await channel.handle_activity(f"Bearer {connector.sign(evil)}",
                                              activity(connector, serviceUrl=evil), collector)
    assert status == 403 and collector.messages == []


async def test_other_tenant_is_refused_for_a_single_tenant_bot(connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector()
    body = activity(connector, channelData={"tenant": {"id": "99999999-0000-4000-8000-000000000000"}},
                    conversation={"id": "a:x", "tenantId": "99999999-0000-4000-8000-000000000000"})
    status, _ = await channel.handle_activity(f"Bearer {connector.sign()}", body, collector)
    assert status == 403 and collector.messages == []


async def test_conversation_update_greets_once_and_redeliveries_are_ignored(connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector(reply=False)
    update = activity(connector, type="conversationUpdate", text=None,
                      membersAdded=[{"id": f"28:{APP_ID}"}, {"id": "29:user", "aadObjectId": AAD_ZWOLLE}])
    token = f"Bearer {connector.sign()}"
    for _ in range(2):
        assert (await channel.handle_activity(token, update, collector))[0] == 202
    removed = activity(connector, type="conversationUpdate", text=None, membersRemoved=[{"id": "29:user"}])
    await channel.handle_activity(token, removed, collector)
    typing = activity(connector, type="typing", text=None)
    await channel.handle_activity(token, typing, collector)
    await channel.drain()
    assert [m.text for m in collector.messages] == ["/greet"]
    assert collector.messages[0].metadata["location"] == "ZWOLLE"


# --------------------------------------------------------------------------- issue 14


async def test_a_tenant_member_not_on_the_staff_list_is_refused_with_a_clear_message(
        connector: FakeConnector) -> None:
    channel = TeamsInput(settings(connector))
    collector = Collector()
    stranger = {"id": "29:other", "name": "Iemand Anders", "aadObjectId": "0f1e2d3c-0000-4000-8000-0000000ff999"}
    body = activity(connector, "er is een incident in Ter Apel", **{"from": stranger})
    status, _ = await channel.handle_activity(f"Bearer {connector.sign()}", body, collector)
    await channel.drain()
    assert status == 202
    assert collector.messages == [], "nothing of a user who is not on the staff list reaches Rasa"
    [reply] = replies_for(connector, body["conversation"]["id"])
    assert reply["text"] == NOT_ON_STAFF_LIST and "geen toegang" in reply["text"]
    no_id = activity(connector, **{"from": {"id": "29:anon", "name": "Anoniem"}})
    await channel.handle_activity(f"Bearer {connector.sign()}", no_id, collector)
    await channel.drain()
    assert collector.messages == []
    await channel.client.close()


async def test_the_staff_list_gives_role_and_location(connector: FakeConnector, tmp_path: Path) -> None:
    staff = tmp_path / "staff.yml"
    staff.write_text(f'staff:\n  "{AAD_ZWOLLE}": {{location: gilze, role: contact_person}}\n')
    channel = TeamsInput(settings(connector, staff_locations_file=str(staff)))
    collector = Collector(reply=False)
    await channel.handle_activity(f"Bearer {connector.sign()}", activity(connector, "x" * 100_000), collector)
    await channel.drain()
    [message] = collector.messages
    assert (message.metadata["location"], message.metadata["role"]) == ("GILZE", "contact_person")
    assert len(message.text) == 4000, "a 100 KB message is cut to the channel limit"
    await channel.client.close()


@pytest.mark.parametrize(("overrides", "problem"), [
    ({"tenant_id": ""}, "single-tenant"),
    ({"tenant_id": "botframework.com"}, "single-tenant"),
    ({"allowed_tenants": "*"}, "single-tenant"),
    ({"staff_locations_file": ""}, "staff list"),
])
def test_production_refuses_any_tenant_and_a_missing_staff_list(overrides: dict, problem: str) -> None:
    values = {"app_id": APP_ID, "app_password": APP_PASSWORD, "tenant_id": TENANT, "staff_id_salt": SALT,
              "staff_locations_file": str(EXAMPLE_LOCATIONS), **overrides}
    with pytest.raises(ValueError, match=problem):
        TeamsSettings.from_mapping(values, environ={"COA_ENV": "production"})
    TeamsSettings.from_mapping(values, environ={})  # development: allowed


def test_production_accepts_a_single_tenant_bot_with_a_staff_list() -> None:
    values = {"app_id": APP_ID, "app_password": APP_PASSWORD, "tenant_id": TENANT, "staff_id_salt": SALT,
              "staff_locations_file": str(EXAMPLE_LOCATIONS)}
    assert TeamsSettings.from_mapping(values, environ={"COA_ENV": "production"}).tenants == (TENANT.lower(),)
