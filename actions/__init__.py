"""Action server package (rasa_sdk): `rasa run actions --actions actions`.

One module per concern; the Rasa action classes stay thin:

- ``engine``       the protocol engine, plain Python, driven by the knowledge YAML
- ``knowledge_cache`` the knowledge loaded once per process
- ``settings``     configuration read from the environment at call time
- ``api_client``   the small HTTP client for the API (service credential)
- ``outbox``       the seam where a record that could not be saved goes
- ``session_log`` / ``session_events`` the guidance-session log: what happened in a
  protocol run, as events stored in the outbox and delivered in order
- ``presenter``    engine output -> dispatcher messages (buttons per contract)
- ``tracker_utils`` reading metadata, entities and slots from a rasa_sdk Tracker
- ``protocol_actions`` / ``form_actions`` / ``record_actions`` the Rasa actions
- ``form_questions`` the form's next question, asked by its validation action
- ``look_ups`` / ``lookup_actions`` look-ups for contact persons (steps, organisations, key
  positions): the answers, and the actions that give them outside the form (and
  "wie ben jij?", which the NLU confuses with "wie is Pharos?")
- ``session_start`` a new Rasa session after a quiet spell resumes an open protocol run
- ``follow_up_actions`` the counsellor confirms its due follow-ups in the chat (issue 15)

The action classes are imported here so that the rasa_sdk executor, which
registers every ``Action`` subclass it finds when importing the package, sees
all of them.
"""

from actions.follow_up_actions import ActionFollowUpAnswer, ActionFollowUpCheck, ValidateFollowUpReasonForm
from actions.form_actions import ValidateProtocolForm
from actions.lookup_actions import (
    ActionLookupKeyPosition,
    ActionLookupOrganisation,
    ActionLookupStep,
    ActionLookupSteps,
    ActionLookupWhenToReport,
    ActionWieBenJij,
)
from actions.protocol_actions import (
    ActionAcuteDanger,
    ActionAnswerOffer,
    ActionGreet,
    ActionNotUnderstood,
    ActionStartProtocol,
)
from actions.record_actions import ActionRecordDecision
from actions.session_start import ActionSessionStart

__all__ = [
    "ActionAcuteDanger",
    "ActionAnswerOffer",
    "ActionFollowUpAnswer",
    "ActionFollowUpCheck",
    "ActionGreet",
    "ActionLookupKeyPosition",
    "ActionLookupOrganisation",
    "ActionLookupStep",
    "ActionLookupSteps",
    "ActionLookupWhenToReport",
    "ActionNotUnderstood",
    "ActionRecordDecision",
    "ActionSessionStart",
    "ActionStartProtocol",
    "ActionWieBenJij",
    "ValidateFollowUpReasonForm",
    "ValidateProtocolForm",
]
