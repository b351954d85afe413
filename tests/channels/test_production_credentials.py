"""Issue 14: the channels Rasa builds from each credentials file, loaded the way
`rasa run --credentials <file>` loads them (``create_http_input_channels``: Rasa's
YAML reader with ${VARIABLE} expansion, then each channel's ``from_credentials``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rasa.core.run import create_http_input_channels

from assistant.channels.rest import RestChannelRefused
from assistant.channels.webchat import DEV_CHAT_KEY_SEED
from tests.channels.fake_connector import APP_ID, APP_PASSWORD, TENANT

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ROOT / "deploy" / "credentials.production.yml"
DEVELOPMENT = ROOT / "assistant" / "credentials.yml"


def pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("COA_JWT_SECRET", "COA_CHAT_TOKEN_PRIVATE_KEY", "COA_CHAT_TOKEN_PRIVATE_KEY_FILE",
                 "COA_CHAT_TOKEN_PUBLIC_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    values = {
        "COA_ENV": "production",
        "COA_CHAT_TOKEN_PUBLIC_KEY": pem(Ed25519PrivateKey.generate()),
        "COA_WEBCHAT_ALLOWED_ORIGINS": "https://coa-assistent.example",
        "COA_TEAMS_APP_ID": APP_ID, "COA_TEAMS_APP_PASSWORD": APP_PASSWORD, "COA_TEAMS_TENANT_ID": TENANT,
        "COA_TEAMS_STAFF_ID_SALT": "salt", "COA_TEAMS_STAFF_LOCATIONS": str(
            ROOT / "assistant" / "channels" / "staff_locations.example.yml"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_serves_only_channels_that_verify_who_is_talking(production_env) -> None:
    channels = create_http_input_channels(None, str(PRODUCTION))
    assert sorted(c.name() for c in channels) == ["teams", "webchat"]
    keys = set(yaml.safe_load(PRODUCTION.read_text()))
    assert not keys & {"rest", "socketio", "assistant.channels.rest.DevRestInput"}


@pytest.mark.parametrize(("variable", "value", "problem"), [
    ("COA_TEAMS_TENANT_ID", "", "single-tenant"),
    ("COA_TEAMS_STAFF_LOCATIONS", "", "staff list"),
    ("COA_CHAT_TOKEN_PUBLIC_KEY", "", "COA_CHAT_TOKEN_PUBLIC_KEY"),
    ("COA_JWT_SECRET", "x" * 48, "COA_JWT_SECRET"),        # Rasa never holds the API's key
    ("COA_CHAT_TOKEN_PRIVATE_KEY", "pem", "COA_CHAT_TOKEN_PRIVATE_KEY"),
])
def test_production_channels_refuse_to_start_when_misconfigured(production_env, variable: str, value: str,
                                                                 problem: str) -> None:
    production_env.setenv(variable, value)
    with pytest.raises(ValueError, match=problem):
        create_http_input_channels(None, str(PRODUCTION))


def test_production_web_chat_refuses_the_development_key_even_without_coa_env(production_env) -> None:
    production_env.delenv("COA_ENV")  # the issue-14 compose profile gave Rasa no COA_ENV
    production_env.setenv("COA_CHAT_TOKEN_PUBLIC_KEY", pem(Ed25519PrivateKey.from_private_bytes(DEV_CHAT_KEY_SEED)))
    with pytest.raises(ValueError, match="development chat token key"):
        create_http_input_channels(None, str(PRODUCTION))
    production_env.delenv("COA_CHAT_TOKEN_PUBLIC_KEY")
    with pytest.raises(ValueError, match="COA_CHAT_TOKEN_PUBLIC_KEY"):
        create_http_input_channels(None, str(PRODUCTION))


def test_the_development_file_cannot_serve_production(production_env) -> None:
    with pytest.raises(RestChannelRefused):
        create_http_input_channels(None, str(DEVELOPMENT))
    production_env.setenv("COA_ENV", "development")
    names = [c.name() for c in create_http_input_channels(None, str(DEVELOPMENT))]
    assert names == ["rest", "webchat"]
