"""Who holds which key position on a location, and who deputises: append-only history."""
