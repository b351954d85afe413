"""Microsoft Teams channel (Bot Framework), built on Rasa 3.6's ``botframework`` connector.

Configured in the credentials file (values may be ``${ENV}``; a key that is absent
or empty falls back to the environment variable ``COA_TEAMS_<KEY>``)::

    assistant.channels.teams.TeamsInput:
      app_id: ${COA_TEAMS_APP_ID}
      app_password: ${COA_TEAMS_APP_PASSWORD}
      tenant_id: ${COA_TEAMS_TENANT_ID}          # single-tenant registration
      staff_id_salt: ${COA_TEAMS_STAFF_SALT}

Webhook (the bot's messaging endpoint): ``POST /webhooks/teams/webhook``.

Gaps of Rasa's connector closed here (see docs/teams.md):
- tenant: the outgoing token comes from ``login.microsoftonline.com/<tenant>``
  (single-tenant bots), ``botframework.com`` only for multi-tenant ones;
- incoming tokens are validated (``teams_auth``): signature against the cached
  JWKS, fixed algorithm list, issuer, audience, expiry, serviceUrl claim; a
  refused activity gets 401 and is not processed;
- no blocking HTTP on the event loop: aiohttp with timeouts, keys fetched lazily
  (Rasa's connector calls ``requests`` at start-up and per message);
- buttons are ``messageBack`` card actions whose value maps back to the Rasa
  payload (``teams_cards``);
- metadata: ``{"channel": "teams", "tenant", "staff_id", "location", "role",
  "conversation_reference"}`` from the authenticated activity and the staff list
  (``teams_identity``), never from the message text; the conversation reference
  (service URL, conversation, bot and user ids: no content) is what the reminders of
  follow-ups need to reach the counsellor later (stored in the API by the actions);
- issue 14: in production (``COA_ENV=production``) the bot must be single-tenant
  (``tenant_id`` set, no ``allowed_tenants: "*"``) and have a staff list
  (``staff_locations_file``); with a staff list, a user who is not on it gets
  ``NOT_ON_STAFF_LIST`` and nothing is processed. Conversation ids are
  ``teams-<conversation id>`` (``namespaces.py``), a message at most
  ``MAX_MESSAGE_CHARS`` characters;
- a greeting on ``conversationUpdate`` (the bot installed / a member added);
- replies only to trusted service URLs (``trusted_service_urls``), so the bot's
  access token is never sent to another host.
Activities are acknowledged with 202 at once and processed in the background, so
that the Bot Connector's 15-second limit never leads to a redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from rasa.core.channels.botframework import BotFramework, BotFrameworkInput
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.channels.namespaces import MAX_MESSAGE_CHARS, teams_conversation_id
from assistant.channels.teams_auth import (
    BOTFRAMEWORK_ISSUER,
    BOTFRAMEWORK_OPENID_CONFIG_URL,
    AuthError,
    BotFrameworkTokenValidator,
    JwksCache,
)
from assistant.channels.teams_cards import button_cards, incoming_text
from assistant.channels.teams_identity import StaffLocations, staff_id

logger = logging.getLogger(__name__)

CHANNEL_NAME = "teams"
ENV_PREFIX = "COA_TEAMS_"
MULTI_TENANT = "botframework.com"
DEFAULT_TRUSTED_SERVICE_URLS = ("https://smba.trafficmanager.net/",)
# Environment fallbacks whose name is not COA_TEAMS_<KEY>.
ENV_NAMES = {"staff_locations_file": "COA_TEAMS_STAFF_LOCATIONS"}
NOT_ON_STAFF_LIST = ("U heeft geen toegang tot de COA-casusbegeleider: uw account staat niet op de lijst "
                     "van medewerkers. Vraag uw locatiemanager of de beheerder om u toe te voegen; "
                     "bij direct gevaar belt u 112.")


class ConnectorError(Exception):
    """A reply could not be delivered to the Bot Connector."""


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class TeamsSettings:
    app_id: str
    app_password: str = field(repr=False, default="")
    tenant_id: str = ""  # "" or botframework.com: multi-tenant registration
    staff_id_salt: str = field(repr=False, default="")
    openid_config_url: str = BOTFRAMEWORK_OPENID_CONFIG_URL
    token_url: str = ""  # default derived from tenant_id
    token_scope: str = "https://api.botframework.com/.default"
    issuer: str = BOTFRAMEWORK_ISSUER
    trusted_service_urls: tuple[str, ...] = DEFAULT_TRUSTED_SERVICE_URLS
    allowed_tenants: tuple[str, ...] = ()  # default: (tenant_id,) for single-tenant bots
    staff_locations_file: str = ""
    http_timeout: float = 10.0
    jwks_min_refresh_seconds: float = 60.0
    greet_payload: str = "/greet"

    @property
    def single_tenant(self) -> bool:
        return bool(self.tenant_id) and self.tenant_id.lower() != MULTI_TENANT

    @property
    def token_endpoint(self) -> str:
        if self.token_url:
            return self.token_url
        tenant = self.tenant_id if self.single_tenant else MULTI_TENANT
        return f"https://login.microsoftonline.com/{quote(tenant, safe='')}/oauth2/v2.0/token"

    @property
    def tenants(self) -> tuple[str, ...]:
        """Tenants whose activities are accepted; empty = any (multi-tenant)."""
        if "*" in self.allowed_tenants:
            return ()
        if self.allowed_tenants:
            return tuple(t.lower() for t in self.allowed_tenants)
        return (self.tenant_id.lower(),) if self.single_tenant else ()

    @classmethod
    def from_mapping(cls, credentials: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> TeamsSettings:
        def get(key: str) -> Any:
            value = credentials.get(key)
            if value is None or value == "":
                value = environ.get(ENV_NAMES.get(key, ENV_PREFIX + key.upper()), "")
            return value

        values: dict[str, Any] = {}
        for key in ("app_id", "app_password", "tenant_id", "staff_id_salt", "openid_config_url", "token_url",
                    "token_scope", "issuer", "staff_locations_file", "greet_payload"):
            value = get(key)
            if value != "":
                values[key] = str(value).strip()
        for key in ("trusted_service_urls", "allowed_tenants"):
            value = get(key)
            if value != "":
                values[key] = _as_list(value)
        for key in ("http_timeout", "jwks_min_refresh_seconds"):
            value = get(key)
            if value != "":
                values[key] = float(value)
        missing = [k for k in ("app_id", "app_password", "staff_id_salt") if not values.get(k)]
        if missing:
            names = ", ".join(ENV_NAMES.get(k, ENV_PREFIX + k.upper()) for k in missing)
            raise ValueError(f"Teams channel: missing {', '.join(missing)} (credentials or {names})")
        settings = cls(**values)
        if environ.get("COA_ENV") == "production" or credentials.get("env") == "production":
            settings.check_production()
        return settings

    def check_production(self) -> None:
        """Any tenant or any member of the tenant must never get in (issue 14)."""
        if not self.single_tenant or not self.tenants:
            raise ValueError("Teams channel: COA_ENV=production needs a single-tenant bot: set tenant_id "
                             "(COA_TEAMS_TENANT_ID) and no allowed_tenants '*'")
        if not self.staff_locations_file:
            raise ValueError("Teams channel: COA_ENV=production needs the staff list "
                             "(staff_locations_file or COA_TEAMS_STAFF_LOCATIONS)")


def service_url_trusted(url: Any, trusted: tuple[str, ...]) -> bool:
    """Same scheme and host as a trusted prefix, and the path under it."""
    if not isinstance(url, str):
        return False
    target = urlsplit(url)
    for prefix in trusted:
        allowed = urlsplit(prefix)
        if (target.scheme.lower(), (target.netloc or "").lower()) != (allowed.scheme.lower(), allowed.netloc.lower()):
            continue
        base = allowed.path.rstrip("/")
        if target.path == base or target.path.startswith(base + "/") or not base:
            return True
    return False


def activity_tenant(activity: Mapping[str, Any]) -> str | None:
    tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    if not tenant:
        tenant = (activity.get("conversation") or {}).get("tenantId")
    return str(tenant) if tenant else None


def conversation_reference(activity: Mapping[str, Any]) -> dict[str, str] | None:
    """Where a proactive message to this user goes later (Bot Framework's
    ConversationReference, without the activity): service URL, conversation, bot, user."""
    values = {
        "service_url": activity.get("serviceUrl"),
        "conversation_id": (activity.get("conversation") or {}).get("id"),
        "bot_id": (activity.get("recipient") or {}).get("id"),
        "user_id": (activity.get("from") or {}).get("id"),
    }
    if not all(isinstance(value, str) and value for value in values.values()):
        return None
    return {key: str(value) for key, value in values.items()}


class BotConnectorClient:
    """Outgoing calls: the bot's access token and replies to the Bot Connector (aiohttp)."""

    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock: asyncio.Lock | None = None
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.http_timeout))
            self._session_loop = loop
            self._lock = asyncio.Lock()
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def access_token(self, force: bool = False) -> str:
        session = self._session_for_loop()
        assert self._lock is not None
        async with self._lock:
            if not force and self._token and time.monotonic() < self._expires_at:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_id": self.settings.app_id,
                "client_secret": self.settings.app_password,
                "scope": self.settings.token_scope,
            }
            try:
                async with session.post(self.settings.token_endpoint, data=form) as reply:
                    body = await reply.json(content_type=None) if reply.status == 200 else None
                    status = reply.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                raise ConnectorError(f"token request to {self.settings.token_endpoint} failed: {error}") from None
            if not isinstance(body, dict) or not body.get("access_token"):
                raise ConnectorError(f"token request to {self.settings.token_endpoint} answered {status}")
            self._token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
            # Renew five minutes early (never cache for less than a minute).
            self._expires_at = time.monotonic() + max(lifetime - 300, 60)
            return self._token

    async def send_activity(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> dict[str, Any]:
        if not service_url_trusted(service_url, self.settings.trusted_service_urls):
            raise ConnectorError(f"service URL {service_url!r} is not trusted")
        url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
        for attempt in (1, 2):
            token = await self.access_token(force=attempt == 2)
            session = self._session_for_loop()
            try:
                async with session.post(url, json=activity, headers={"Authorization": f"Bearer {token}"}) as reply:
                    if reply.status == 401 and attempt == 1:
                        continue  # token revoked or rotated: fetch a fresh one once
                    if reply.status >= 300:
                        raise ConnectorError(f"Bot Connector answered {reply.status} for {url}")
                    body = await reply.json(content_type=None)
                    return body if isinstance(body, dict) else {}
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                raise ConnectorError(f"sending to {url} failed: {error}") from None
        raise ConnectorError(f"Bot Connector refused the bot's token for {url}")


class TeamsOutput(BotFramework):
    """Replies into the Teams conversation the activity came from."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    def __init__(self, client: BotConnectorClient, activity: Mapping[str, Any]) -> None:
        # Rasa's BotFramework keeps the password on every output channel; we don't.
        super().__init__(client.settings.app_id, "", activity["conversation"], activity["recipient"],
                         activity["serviceUrl"])
        self.client = client
        self.service_url = str(activity["serviceUrl"])
        user = activity.get("from") or {}
        self.user = {key: user[key] for key in ("id", "name") if key in user}
        self.reply_to_id = activity.get("id")

    def prepare_message(self, recipient_id: str, message_data: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "from": self.bot,
            "recipient": self.user,
            "conversation": {"id": self.conversation["id"]},
            "text": "",
        }
        if self.reply_to_id:
            data["replyToId"] = self.reply_to_id
        data.update(message_data)
        return data

    async def _get_headers(self) -> dict[str, Any] | None:  # Rasa's blocking version must not run
        return {"Authorization": f"Bearer {await self.client.access_token()}"}

    async def send(self, message_data: dict[str, Any]) -> None:
        try:
            await self.client.send_activity(self.service_url, str(self.conversation["id"]), message_data)
        except ConnectorError as error:
            logger.error("Teams reply not delivered: %s", error)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        # One message per response (Rasa's connector split every paragraph into its own).
        await self.send(self.prepare_message(recipient_id, {"text": text.strip(), "textFormat": "markdown"}))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        attachments = button_cards(text, buttons)
        await self.send(self.prepare_message(recipient_id, {"attachments": attachments, "attachmentLayout": "list"}))

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send(self.prepare_message(recipient_id, dict(json_message)))


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TeamsInput(BotFrameworkInput):
    """Input channel for the bot's messaging endpoint ``/webhooks/teams/webhook``."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if credentials is None:
            cls.raise_missing_credentials_exception()
        return cls(TeamsSettings.from_mapping(credentials or {}))

    def __init__(self, settings: TeamsSettings) -> None:
        # BotFrameworkInput.__init__ fetches Microsoft's keys with `requests` at
        # start-up; keys are fetched lazily and asynchronously here instead.
        self.settings = settings
        self.app_id = settings.app_id
        self.keys = JwksCache(settings.openid_config_url, timeout=settings.http_timeout,
                              min_refresh_interval=settings.jwks_min_refresh_seconds)
        self.validator = BotFrameworkTokenValidator(settings.app_id, self.keys, issuer=settings.issuer)
        self.client = BotConnectorClient(settings)
        self.staff_locations = StaffLocations(settings.staff_locations_file or None)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        if settings.single_tenant:
            logger.info("Teams channel: single-tenant bot, tenant %s", settings.tenant_id)

    # Rasa's synchronous validation (requests on the event loop, algorithm from the
    # token header) must never be used by accident.
    def _update_cached_jwk_keys(self) -> None:
        raise NotImplementedError("use self.keys (asynchronous JWKS cache)")

    def _validate_jwt_token(self, jwt_token: str) -> None:
        raise NotImplementedError("use self.validator")

    def _validate_auth(self, auth_header: str | None) -> HTTPResponse | None:
        raise NotImplementedError("use self.validator")

    # -- metadata

    def activity_metadata(self, activity: Mapping[str, Any]) -> dict[str, Any]:
        """What the assistant may know about the user: pseudonymous id, tenant, location."""
        tenant = activity_tenant(activity)
        metadata: dict[str, Any] = {"channel": CHANNEL_NAME, "tenant": tenant}
        aad_object_id = (activity.get("from") or {}).get("aadObjectId")
        if isinstance(aad_object_id, str) and aad_object_id.strip():
            metadata["staff_id"] = staff_id(self.settings.staff_id_salt, tenant, aad_object_id)
            reference = conversation_reference(activity)
            if reference:
                metadata["conversation_reference"] = reference
            entry = self.staff_locations.entry_for(aad_object_id)
            if entry:
                metadata["location"] = entry.location
                metadata["role"] = entry.role
        return metadata

    def on_staff_list(self, activity: Mapping[str, Any]) -> bool:
        """Without a staff list everyone in the allowed tenant (development); with one,
        only the users on it."""
        if not self.staff_locations.is_allow_list:
            return True
        aad_object_id = (activity.get("from") or {}).get("aadObjectId")
        return isinstance(aad_object_id, str) and self.staff_locations.entry_for(aad_object_id) is not None

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        body = request.json
        return self.activity_metadata(body) if isinstance(body, dict) else None

    # -- activities

    def _duplicate(self, activity: Mapping[str, Any]) -> bool:
        activity_id = activity.get("id")
        if not isinstance(activity_id, str) or not activity_id:
            return False
        key = (str((activity.get("conversation") or {}).get("id")), activity_id)
        if key in self._seen:
            return True
        self._seen[key] = None
        while len(self._seen) > 2000:
            self._seen.popitem(last=False)
        return False

    def user_message(self, activity: Mapping[str, Any]) -> UserMessage | None:
        """The Rasa message for an authenticated activity; None when there is nothing to do."""
        kind = activity.get("type")
        conversation = activity.get("conversation") or {}
        if not isinstance(conversation.get("id"), str) or not activity.get("recipient"):
            return None
        if kind == "message":
            text = incoming_text(dict(activity))[:MAX_MESSAGE_CHARS]
            if not text:
                return None
        elif kind == "conversationUpdate":
            added = activity.get("membersAdded") or []
            bot_id = (activity.get("recipient") or {}).get("id")
            personal = conversation.get("conversationType", "personal") == "personal"
            if not added or not (personal or any(m.get("id") == bot_id for m in added if isinstance(m, dict))):
                return None
            text = self.settings.greet_payload
        else:
            return None
        return UserMessage(
            text=text,
            output_channel=TeamsOutput(self.client, activity),
            # Namespaced: no other channel can name a Teams conversation.
            sender_id=teams_conversation_id(conversation["id"]),
            input_channel=self.name(),
            message_id=activity.get("id"),
            metadata=self.activity_metadata(activity),
        )

    async def handle_activity(self, authorization: str | None, activity: Any,
                              on_new_message: OnNewMessage) -> tuple[int, dict[str, Any]]:
        """Authenticates, then starts processing in the background; (status, body) for the webhook."""
        if not isinstance(activity, dict):
            return 400, {"error": "expected an activity (JSON object)"}
        try:
            await self.validator.validate(authorization, activity.get("serviceUrl"), activity.get("channelId"))
        except AuthError as error:
            logger.warning("Teams activity refused (401): %s", error)
            return 401, {"error": "unauthorized"}
        tenant = activity_tenant(activity)
        if self.settings.tenants and (tenant or "").lower() not in self.settings.tenants:
            logger.warning("Teams activity from tenant %r refused (403)", tenant)
            return 403, {"error": "tenant not allowed"}
        if not service_url_trusted(activity.get("serviceUrl"), self.settings.trusted_service_urls):
            logger.warning("Teams activity with untrusted serviceUrl %r refused (403)", activity.get("serviceUrl"))
            return 403, {"error": "service URL not trusted"}
        if self._duplicate(activity):
            return 202, {}
        if not self.on_staff_list(activity):
            logger.warning("Teams activity from a user not on the staff list refused")
            if (activity.get("type") == "message" and activity.get("recipient")
                    and isinstance((activity.get("conversation") or {}).get("id"), str)):
                self._spawn(TeamsOutput(self.client, activity).send_text_message("", NOT_ON_STAFF_LIST))
            return 202, {}
        message = self.user_message(activity)
        if message is not None:
            self._spawn(self._process(on_new_message, message))
        return 202, {}

    async def _process(self, on_new_message: OnNewMessage, message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("Teams message %s could not be handled", message.message_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Waits for the messages being processed (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        teams_webhook = Blueprint("teams_webhook", __name__)

        @teams_webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @teams_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                activity = request.json
            except SanicException:
                return response.json({"error": "invalid JSON"}, status=400)
            status, body = await self.handle_activity(request.headers.get("Authorization"), activity, on_new_message)
            return response.json(body, status=status)

        @teams_webhook.listener("before_server_stop")
        async def finish(app: Any, loop: Any) -> None:
            await self.drain()
            await self.client.close()

        return teams_webhook
