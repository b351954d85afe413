"""Rasa responses as Teams activities, and Teams activities back as Rasa text.

Buttons (RasaHQ/rasa issue 8164): Rasa's connector puts Rasa's button dicts
(``{"title", "payload"}``) into the hero card as they are; Teams ignores buttons
without a ``type``/``value``, so nothing happens on a click. Here every postback
button becomes a ``messageBack`` card action: the chat shows the title
(``displayText``), the bot receives ``text`` = title and ``value`` =
``{"payload": "<Rasa payload>"}``, and ``incoming_text`` turns that value back
into the payload (``/affirm``, ``/kies{"keuze": "x"}``) for Rasa.
"""

from __future__ import annotations

import re
from typing import Any

HERO_CARD = "application/vnd.microsoft.card.hero"
# Teams shows at most six buttons on a hero card; more go onto follow-up cards.
MAX_BUTTONS_PER_CARD = 6
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)


def card_action(button: dict[str, Any]) -> dict[str, Any]:
    """One Rasa button as a Teams card action."""
    title = str(button.get("title") or button.get("payload") or "")
    url = button.get("url")
    if button.get("type") == "web_url" or url:
        return {"type": "openUrl", "title": title, "value": str(url or button.get("payload") or "")}
    payload = str(button.get("payload") or title)
    if payload.startswith("tel:"):
        return {"type": "openUrl", "title": title, "value": payload}
    return {
        "type": "messageBack",
        "title": title,
        "text": title,
        "displayText": title,
        "value": {"payload": payload},
    }


def hero_card(text: str | None, buttons: list[dict[str, Any]] | None = None,
              images: list[str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if text:
        content["text"] = text
    if buttons:
        content["buttons"] = [card_action(b) for b in buttons]
    if images:
        content["images"] = [{"url": url} for url in images]
    return {"contentType": HERO_CARD, "content": content}


def button_cards(text: str, buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The question with its buttons: one hero card per six buttons (text on the first)."""
    chunks = [buttons[i:i + MAX_BUTTONS_PER_CARD] for i in range(0, len(buttons), MAX_BUTTONS_PER_CARD)] or [[]]
    return [hero_card(text if index == 0 else None, chunk) for index, chunk in enumerate(chunks)]


def incoming_text(activity: dict[str, Any]) -> str:
    """What Rasa should receive for a Teams ``message`` activity.

    A ``messageBack`` click carries our ``{"payload": ...}`` in ``value``: the
    payload wins over the display text. ``imBack`` clicks and typed messages
    arrive as ``text``. ``<at>Bot</at>`` mentions (group chats) are removed.
    """
    value = activity.get("value")
    if isinstance(value, dict):
        payload = value.get("payload")
        if isinstance(payload, str) and payload.strip():
            return payload.strip()
    text = activity.get("text")
    if not isinstance(text, str):
        return ""
    return _MENTION.sub("", text).strip()
