"""Protocols from ``knowledge``: JSON endpoints and the mermaid flowchart source."""
