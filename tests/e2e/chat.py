"""A counsellor talking to the assistant over the REST channel (the contract)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx

RASA_REST = "http://127.0.0.1:5005/webhooks/rest/webhook"


@dataclass
class Conversation:
    location: str | None = "TERAPEL"
    sender: str = field(default_factory=lambda: "e2e-" + uuid.uuid4().hex[:12])
    transcript: list[tuple[str, list[dict]]] = field(default_factory=list)

    def say(self, text: str) -> list[dict]:
        body: dict = {"sender": self.sender, "message": text}
        if self.location:
            body["metadata"] = {"location": self.location}
        response = httpx.post(RASA_REST, json=body, timeout=60)
        response.raise_for_status()
        replies = response.json()
        self.transcript.append((text, replies))
        return replies

    @staticmethod
    def text(replies: list[dict]) -> str:
        return "\n".join(r.get("text", "") for r in replies)

    @staticmethod
    def buttons(replies: list[dict]) -> list[dict]:
        return [b for r in replies for b in r.get("buttons", [])]

    def dump(self) -> str:
        lines = []
        for said, replies in self.transcript:
            lines.append(f"> {said}")
            lines.extend(f"< {r.get('text', '')} {[b['title'] for b in r.get('buttons', [])]}"
                         for r in replies)
        return "\n".join(lines)
