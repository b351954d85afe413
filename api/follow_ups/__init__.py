"""Follow-up actions of a recorded decision (issue 15): deadlines, confirmations, reminders."""
