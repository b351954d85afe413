"""Cross-cutting security pieces (issue 6): rate limits, de-identification."""
