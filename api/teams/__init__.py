"""Teams conversation references and proactive messages through the Bot Connector (issue 15, part 4)."""
