"""`python -m api.auth.token_cli` (what `make token` runs) prints a valid token last."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest

from api.auth.service import decode_token
from api.config import get_settings

from .conftest import REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.auth.token_cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_prints_a_valid_token_as_last_line() -> None:
    result = _run("--role", "supervisor", "--location", "TERAPEL")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert " " not in token
    user = decode_token(get_settings(), token)
    assert user.role == "supervisor"
    assert user.locations == ("TERAPEL",)


def test_options() -> None:
    result = _run("--role", "counsellor", "--location", "terapel,BUDEL", "--sub", "stf-x", "--ttl-hours", "1")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.splitlines()[-1], get_settings().jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == "stf-x"
    assert claims["locations"] == ["BUDEL", "TERAPEL"]
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600


@pytest.mark.parametrize("location_args", [[], ["--location", ""]])
def test_service_token_without_location(location_args: list[str]) -> None:
    result = _run("--role", "service", *location_args)
    assert result.returncode == 0, result.stderr
    user = decode_token(get_settings(), result.stdout.splitlines()[-1])
    assert (user.sub, user.role, user.locations) == ("action-server", "service", ())


def test_unknown_role_fails() -> None:
    result = _run("--role", "root")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
