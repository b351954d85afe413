"""Whose metadata the actions believe (issue 14): staff id and location only from a
channel that verified the user, judged by the input channel Rasa recorded and the
conversation id's namespace; everything else records the staff id "unverified"."""

from __future__ import annotations

import pytest

from actions.tracker_utils import metadata_location, staff_id, verified_channel
from tests.actions.helpers import make_tracker

WEBCHAT_SENDER = "wc-" + "a" * 24 + "-" + "b" * 32
FORGED = {"location": "ZWOLLE", "staff_id": "mdw-someone-else"}


@pytest.mark.parametrize(("channel", "sender"), [("webchat", WEBCHAT_SENDER), ("teams", "teams-a:1xyz")])
def test_a_verified_channel_states_the_staff_member(channel: str, sender: str) -> None:
    tracker = make_tracker(text="hallo", metadata={"location": "TERAPEL", "staff_id": "mdw-7f3k"},
                           sender_id=sender, input_channel=channel)
    assert verified_channel(tracker) == channel
    assert staff_id(tracker) == "mdw-7f3k"
    assert metadata_location(tracker) == "TERAPEL"


def test_rest_metadata_never_sets_the_staff_member() -> None:
    tracker = make_tracker(text="hallo", metadata=FORGED, sender_id="demo-1", input_channel="rest")
    assert verified_channel(tracker) is None
    assert staff_id(tracker) == "unverified"


@pytest.mark.parametrize(("channel", "sender"), [
    ("webchat", "demo-1"),          # a channel name claimed outside its namespace
    ("teams", WEBCHAT_SENDER),      # another channel's namespace
    ("socketio", WEBCHAT_SENDER),   # Rasa's plain socket.io channel proves nothing
    ("", WEBCHAT_SENDER),
])
def test_a_claimed_channel_outside_its_namespace_is_not_believed(channel: str, sender: str) -> None:
    tracker = make_tracker(text="hallo", metadata=FORGED, sender_id=sender, input_channel=channel)
    assert verified_channel(tracker) is None
    assert staff_id(tracker) == "unverified"


def test_a_verified_channel_without_a_staff_id_is_unverified() -> None:
    tracker = make_tracker(text="hallo", metadata={"location": "TERAPEL"}, sender_id=WEBCHAT_SENDER,
                           input_channel="webchat")
    assert staff_id(tracker) == "unverified"
