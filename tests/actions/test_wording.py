"""Staff are addressed formally ("u") in every text the action server and the domain say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jezelf|jullie)\b", re.IGNORECASE)


def string_literals(path: Path) -> list[tuple[int, str]]:
    """Every string constant in a module, docstrings and comments excluded (those are English)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_action_message_uses_je_jij_or_jouw() -> None:
    found = [f"{path.name}:{line}: {text!r}" for path in sorted((ROOT / "actions").glob("*.py"))
             for line, text in string_literals(path) if INFORMAL.search(text)]
    assert found == []


def test_no_domain_response_uses_je_jij_or_jouw() -> None:
    responses = yaml.safe_load((ROOT / "assistant" / "domain" / "responses.yml").read_text(encoding="utf-8"))
    found = [f"{name}: {variant.get('text')!r}" for name, variants in responses["responses"].items()
             for variant in variants if INFORMAL.search(str(variant.get("text") or ""))
             or any(INFORMAL.search(str(b.get("title") or "")) for b in variant.get("buttons") or [])]
    assert found == []
