"""The Rasa assistant: config, domain, channels and the server entry point."""
