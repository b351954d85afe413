"""The REST channel of the contract, for development and tests only.

``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata": {"location"}}``
(``../shared/DESIGN.md``), as Rasa's ``rest`` channel, with what an unauthenticated
channel must not allow (issue 14):

- **not in production**: the channel refuses to start when ``COA_ENV=production``;
  the production credentials file (``deploy/credentials.production.yml``) has no
  REST channel at all;
- **loopback only**: a request from any other address gets 403, even when Rasa is
  started on ``0.0.0.0`` by mistake;
- **no identity from the client**: the metadata keeps ``location`` only (the
  contract) and always says ``channel: rest``; a ``staff_id`` sent by the client
  is dropped, the input channel is always ``rest`` (Rasa's channel takes the
  client's ``input_channel``), and the action server records these conversations
  with the staff id ``unverified`` (``actions/tracker_utils.py``);
- **its own conversation ids**: a ``sender`` that starts with another channel's
  prefix (``wc-``, ``teams-``) is refused (422), so a REST client cannot address a
  web chat or Teams conversation (``namespaces.py``);
- **JSON only and small**: another content type gets 415 (a cross-origin
  ``text/plain`` form post is refused without a CORS preflight), a body over
  ``MAX_BODY_BYTES`` 413 (a 100 KB message never reaches the NLU pipeline), and
  a message is cut to ``MAX_MESSAGE_CHARS`` as in every channel (issue 6.6: a long
  or empty message still gets a normal answer). No streaming mode.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from assistant.channels.namespaces import MAX_MESSAGE_CHARS, REST, rest_sender_problem

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


class RestChannelRefused(RuntimeError):
    pass


def _loopback(address: str | None) -> bool:
    """The socket peer (Sanic's ``request.ip``, never a forwarded header) is this host."""
    try:
        ip = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def _problem(status: int, detail: str) -> HTTPResponse:
    return response.json({"error": detail}, status=status)


def check_request(
    content_type: str, body: bytes, client_ip: str | None
) -> tuple[dict[str, Any] | None, HTTPResponse | None]:
    """The parsed body of an acceptable request, or the refusal to send."""
    if not _loopback(client_ip):
        return None, _problem(403, "the REST channel only answers on loopback (development)")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return None, _problem(415, "Content-Type must be application/json")
    if len(body) > MAX_BODY_BYTES:
        return None, _problem(413, f"request body over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return None, _problem(400, "body is not valid JSON")
    if not isinstance(data, dict):
        return None, _problem(422, "body must be a JSON object {sender, message, metadata}")
    problem = rest_sender_problem(data.get("sender"))
    if problem:
        return None, _problem(422, problem)
    if not isinstance(data.get("message"), str):
        return None, _problem(422, "message must be a string")
    return data, None


def client_metadata(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the client may say: the location (contract), nothing about who it is."""
    metadata: dict[str, Any] = {"channel": REST}
    sent = data.get("metadata")
    location = sent.get("location") if isinstance(sent, dict) else None
    if isinstance(location, str) and location.strip():
        metadata["location"] = location.strip()[:32]
    return metadata


class DevRestInput(InputChannel):
    """``/webhooks/rest/webhook`` for development and tests; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return REST

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        if environ.get("COA_ENV") == "production":
            raise RestChannelRefused(
                "the REST channel is for development and tests only: remove it from the "
                "credentials file (production uses deploy/credentials.production.yml)"
            )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest_webhook = Blueprint("coa_rest_webhook", __name__)

        @rest_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            data, refusal = check_request(request.headers.get("content-type", ""), request.body, request.ip)
            if refusal is not None:
                logger.warning("REST message refused (%s)", refusal.status)
                return refusal
            assert data is not None
            collector = CollectingOutputChannel()
            message = UserMessage(data["message"][:MAX_MESSAGE_CHARS], collector, data["sender"], input_channel=REST,
                                  metadata=client_metadata(data))
            try:
                await on_new_message(message)
            except Exception:  # as Rasa's channel: answer what was said so far, never a 500
                logger.exception("REST message for %s failed", data["sender"])
            return response.json(collector.messages)

        return rest_webhook
