"""The review workflow: states and the ONE table of allowed transitions.

An incident starts as ``nieuw`` (no review event yet). A reviewer takes it up
(``in_behandeling``), then either closes it (``afgehandeld``) or asks the
counsellor who recorded it for a correction (``correctie_gevraagd``); the
counsellor answers with ``gecorrigeerd`` and a note; the reviewer then takes it
up again or closes it. ``afgehandeld`` is final.

Who may make a transition is part of the same table:
- ``reviewer``: a supervisor of the incident's location (the contactpersoon
  veiligheid in the monitoring role gets a supervisor account: DESIGN.md lists
  that monitoring role under "Supervisor"). Contact persons in their advisory
  role and admins read, they do not review.
- ``author``: the counsellor whose pseudonymous staff id recorded the incident.
"""

from __future__ import annotations

from typing import Literal

Actor = Literal["reviewer", "author"]

STATUSES: tuple[str, ...] = ("nieuw", "in_behandeling", "correctie_gevraagd", "gecorrigeerd", "afgehandeld")
INITIAL_STATUS = "nieuw"

#: (from, to) → who may do it. Every pair not in this table is refused (409).
TRANSITIONS: dict[tuple[str, str], Actor] = {
    ("nieuw", "in_behandeling"): "reviewer",
    ("in_behandeling", "afgehandeld"): "reviewer",
    ("in_behandeling", "correctie_gevraagd"): "reviewer",
    ("correctie_gevraagd", "gecorrigeerd"): "author",
    ("gecorrigeerd", "in_behandeling"): "reviewer",
    ("gecorrigeerd", "afgehandeld"): "reviewer",
}


def allowed_from(status: str) -> list[str]:
    return [target for (source, target) in TRANSITIONS if source == status]
