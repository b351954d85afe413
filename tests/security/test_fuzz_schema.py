"""The OpenAPI schema fuzzed with schemathesis (issue 6, part 6): no input gives a
5xx. In-process (ASGI), against the test database (rolled back), a bounded number
of examples per operation so that the run stays short. Writes go with the service
credential, reads with an admin token; 4xx answers are fine, 5xx are not."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

from api.auth.service import create_token
from api.config import get_settings

WRITES = {
    ("POST", "/api/v1/incidents"),
    ("POST", "/api/v1/sessions/events"),
    ("POST", "/api/v1/sessions/events/batch"),
}


MAX_EXAMPLES = 25


def _check(case, role: str) -> None:
    token = create_token(get_settings(), sub=f"fuzz-{role}", role=role, locations=["TERAPEL"])
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    if response.status_code == 422:
        detail = response.json()["detail"]
        # A 422 says what is wrong: where and why.
        if isinstance(detail, list):
            assert all(item.get("loc") and item.get("msg") for item in detail), (where, detail)
        else:
            assert isinstance(detail, str) and detail, where


def _runner(role: str):
    def run(case) -> None:
        _check(case, role)

    return run


def test_no_input_gives_a_server_error(app, seeded: Session) -> None:
    # schemathesis' own pytest plugin does not work with pytest 9 yet: one hypothesis
    # run per operation, driven here.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        role = "service" if (operation.method.upper(), operation.path) in WRITES else "admin"

        run = settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )(given(case=operation.as_strategy())(_runner(role)))
        run()


#: Values that gave 500s before issue 14 (finding 7): past the 64-bit range, past
#: year 9999 when a day is added, before the first date the data can have.
EDGE_VALUES: dict[str, list[object]] = {
    "integer": [9223372036854775808, 2**63 - 1, 10**30, -1, "4e17", 1_000_001],
    "date": ["9999-12-31", "1000-01-01", "0001-01-01", "9999-12-31T23:59:59+14:00", "2100-12-31", "2000-01-01"],
}
DATE_PARAMETERS = {"from", "to"}
#: Of those, the ones inside every bound (the first and last day the data can have).
IN_BOUNDS = ("2100-12-31", "2000-01-01")


def _edge_cases(operation):  # type: ignore[no-untyped-def]
    for parameter in operation.query:
        schema = parameter.definition.get("schema", {})
        types = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", [])}
        kind = "integer" if "integer" in types else "date" if parameter.name in DATE_PARAMETERS else None
        for value in EDGE_VALUES.get(kind or "", []):
            yield parameter.name, value


def test_numbers_and_dates_out_of_bounds_are_refused_not_a_server_error(app, seeded: Session) -> None:
    """Every integer and date query parameter of every GET operation, at the values of
    finding 7: never a 5xx; out of bounds is a 422 that names the parameter."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET" or "{" in operation.path:
            continue
        for name, value in _edge_cases(operation):
            # An admin, or the service credential for the routes only the chat may call
            # (/api/v1/chat/...): refused with 403 before the parameters are read.
            for role in ("admin", "service"):
                token = create_token(get_settings(), sub=f"fuzz-{role}", role=role, locations=["TERAPEL"])
                response = operation.Case(query={name: value}).call(headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 403:
                    break
            where = f"GET {operation.path}?{name}={value}"
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
            if value not in IN_BOUNDS:
                assert response.status_code == 422, f"{where}: {response.status_code}"
                assert name in response.text or "outside" in response.text, f"{where}: {response.text[:300]}"
            tried += 1
    assert tried >= 40  # offset/limit of three lists, from/to of sessions, the CSV and indicators
