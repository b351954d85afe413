"""The production profile's files (issue 7, part 3), checked by parsing: Docker is not
available on the development machines, so `docker compose config` and `haproxy -c`
cannot run; these tests assert what the profile relies on."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
sys.path.insert(0, str(ROOT / "scripts"))

from pinning_proxy import conversation_key, pick  # noqa: E402

VARIABLE = re.compile(r"\$\{(\w+)\}")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def endpoint_variables() -> set[str]:
    lines = (DEPLOY / "endpoints.production.yml").read_text().splitlines()
    return {v for line in lines if not line.lstrip().startswith("#") for v in VARIABLE.findall(line)}


def test_production_endpoints_use_postgresql_and_redis_from_the_environment() -> None:
    endpoints = load(DEPLOY / "endpoints.production.yml")
    store, lock = endpoints["tracker_store"], endpoints["lock_store"]
    assert store["type"] == "assistant.tracker_store.CachedSQLTrackerStore" and store["dialect"] == "postgresql"
    assert lock["type"] == "redis"
    assert VARIABLE.fullmatch(endpoints["action_endpoint"]["headers"]["X-Action-Token"])
    for section in (store, lock, {"url": endpoints["action_endpoint"]["url"]}):
        for key, value in section.items():
            if key not in ("type", "dialect"):
                assert VARIABLE.fullmatch(str(value)), f"{key}: {value!r} should come from the environment"
    assert endpoint_variables() >= {"DB_HOST", "DB_PASSWORD", "REDIS_HOST", "ACTION_SERVER_URL"}


def test_compose_services_ports_and_environment() -> None:
    compose = load(DEPLOY / "docker-compose.yml")
    services = compose["services"]
    assert {"postgres", "redis", "api", "actions", "rasa-1", "rasa-2", "proxy"} <= set(services)

    api = services["api"]
    assert api["command"][api["command"].index("--workers") + 1] == "2"
    assert api["ports"] == ["127.0.0.1:8000:8000"]
    assert api["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/coa" in api["environment"]["DATABASE_URL"]

    for name in ("rasa-1", "rasa-2"):
        rasa = services[name]
        command = rasa["command"]
        assert command[command.index("--endpoints") + 1] == "deploy/endpoints.production.yml"
        assert command[command.index("--port") + 1] == "5005"
        assert set(rasa["environment"]) >= endpoint_variables(), f"{name} misses endpoint variables"
        assert rasa["environment"]["DB_HOST"] == "postgres" and rasa["environment"]["REDIS_HOST"] == "redis"
        assert rasa["environment"]["ACTION_SERVER_URL"] == "http://actions:5055/webhook"
        assert "ports" not in rasa, "replicas are reached only through the proxy"
    assert services["rasa-2"]["depends_on"]["rasa-1"]["condition"] == "service_healthy"

    actions = services["actions"]
    assert actions["environment"]["COA_API_URL"] == "http://api:8000"
    token = actions["environment"]["COA_ACTION_SERVER_TOKEN"]
    assert token == services["rasa-1"]["environment"]["COA_ACTION_SERVER_TOKEN"]
    assert actions["environment"]["COA_OUTBOX_PATH"].startswith("/data/")
    assert any(v.endswith(":/data") for v in actions["volumes"])

    proxy = services["proxy"]
    assert proxy["ports"] == ["127.0.0.1:5005:5005"]
    assert any(v.startswith("./haproxy.cfg:") for v in proxy["volumes"])
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in published), "publish on loopback only"


def test_compose_secrets_come_from_the_environment_file() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "COA_JWT_SECRET", "COA_SERVICE_TOKEN", "COA_ACTION_SERVER_TOKEN"):
        assert f"${{{secret}:?" in text
    example = (DEPLOY / ".env.example").read_text()
    assert all(f"{s}=" in example for s in ("POSTGRES_PASSWORD", "COA_JWT_SECRET", "COA_SERVICE_TOKEN"))


def test_haproxy_pins_on_the_conversation_id_with_consistent_hashing() -> None:
    for config in ((DEPLOY / "haproxy.cfg").read_text(), _k8s_haproxy()):
        assert "option http-buffer-request" in config
        # Issue 14: the Teams channel's real path (not Rasa's botframework one).
        assert "acl teams        path /webhooks/teams/webhook" in config
        assert "json_query('$.conversation.id') if teams" in config
        assert "balance hash var(txn.conversation)" in config
        assert config.count("hash-type consistent") == 2
        assert len(re.findall(r"^\s+server rasa-\d", config, re.M)) == 4


def _k8s_haproxy() -> str:
    for doc in yaml.safe_load_all((DEPLOY / "k8s" / "configmap.yaml").read_text()):
        if doc["metadata"]["name"] == "coa-haproxy":
            return doc["data"]["haproxy.cfg"]
    raise AssertionError("no coa-haproxy ConfigMap")


def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_name(kind: str, name: str) -> dict:
    for doc in k8s_docs():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")


def container(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]["containers"][0]


def test_k8s_manifests_parse_and_name_what_the_profile_needs() -> None:
    docs = k8s_docs()
    assert all(d.get("apiVersion") and d.get("kind") and d["metadata"].get("name") for d in docs)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "coa-api"), ("Deployment", "coa-actions"), ("StatefulSet", "coa-rasa"),
            ("Deployment", "coa-rasa-proxy"), ("Service", "coa-api"), ("Service", "coa-actions"),
            ("Service", "coa-rasa"), ("Service", "coa-rasa-headless"), ("ConfigMap", "coa-config"),
            ("Secret", "coa-api-secrets"), ("Secret", "coa-rasa-secrets"), ("Secret", "coa-actions-secrets"),
            ("Job", "coa-api-migrate"), ("CronJob", "coa-retention")} <= kinds
    assert all(d["metadata"].get("namespace", "coa") == "coa" for d in docs)


@pytest.mark.parametrize(("kind", "name", "path", "port"), [
    ("Deployment", "coa-api", "/health", 8000),
    ("Deployment", "coa-actions", "/health", 5055),
    ("StatefulSet", "coa-rasa", "/", 5005),
])
def test_k8s_probes(kind: str, name: str, path: str, port: int) -> None:
    main = container(by_name(kind, name))
    assert main["ports"][0]["containerPort"] == port
    for probe in ("readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"]["path"] == path, f"{name} {probe}"


def test_k8s_rasa_replicas_api_workers_and_environment() -> None:
    rasa = by_name("StatefulSet", "coa-rasa")
    assert rasa["spec"]["replicas"] == 2
    assert rasa["spec"]["podManagementPolicy"] == "OrderedReady"
    assert rasa["spec"]["serviceName"] == "coa-rasa-headless"
    assert "startupProbe" in container(rasa)
    command = container(rasa)["command"]
    assert command[command.index("--endpoints") + 1] == "deploy/endpoints.production.yml"
    api = container(by_name("Deployment", "coa-api"))
    assert api["command"][api["command"].index("--workers") + 1] == "2"
    actions = by_name("Deployment", "coa-actions")
    assert actions["spec"]["replicas"] == 1 and actions["spec"]["strategy"]["type"] == "Recreate"

    config = by_name("ConfigMap", "coa-config")["data"]
    assert endpoint_variables() <= set(config) | set(by_name("Secret", "coa-rasa-secrets")["stringData"])
    for workload in (rasa, by_name("Deployment", "coa-api"), actions):
        refs = container(workload)["envFrom"]
        assert {"configMapRef": {"name": "coa-config"}} in refs
    for doc in k8s_docs():
        if doc["kind"] == "Secret" and doc["metadata"]["name"] != "coa-teams-staff":
            assert all(v == "REPLACE_ME" for v in doc["stringData"].values()), "placeholders only"
    assert {"COA_JWT_SECRET", "DATABASE_URL"} <= set(by_name("Secret", "coa-api-secrets")["stringData"])
    assert "COA_SERVICE_TOKEN" in by_name("Secret", "coa-actions-secrets")["stringData"]


def test_dockerfiles() -> None:
    assistant = (DEPLOY / "Dockerfile.assistant").read_text()
    api = (DEPLOY / "Dockerfile.api").read_text()
    assert "FROM python:3.10" in assistant and "requirements/assistant.lock" in assistant
    assert "FROM python:3.11" in api and "requirements/api.lock" in api
    assert "USER coa" in assistant and "USER coa" in api
    assert "deploy/endpoints.production.yml" in assistant
    for text in (assistant, api):
        for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
            assert (ROOT / source.rstrip("/")).exists() or source in ("build/spacy_nl/", "models/"), source


def test_pinning_rule_of_the_test_proxy() -> None:
    body = b'{"sender": "abc", "message": "hoi"}'
    assert conversation_key("/webhooks/rest/webhook", body) == "abc"
    teams = b'{"type": "message", "conversation": {"id": "19:xyz"}}'
    assert conversation_key("/webhooks/teams/webhook", teams) == "19:xyz"
    assert conversation_key("/", b"") is None
    assert conversation_key("/webhooks/rest/webhook", b"not json") is None
    upstreams = ["http://127.0.0.1:16005", "http://127.0.0.1:16006"]
    assert all(pick(f"c{i}", upstreams) == pick(f"c{i}", list(reversed(upstreams))) for i in range(50))
    spread = {pick(f"conversation-{i}", upstreams) for i in range(50)}
    assert spread == set(upstreams)
    three = [*upstreams, "http://127.0.0.1:16007"]
    moved = [i for i in range(300) if pick(f"c{i}", three) != "http://127.0.0.1:16007"
             and pick(f"c{i}", three) != pick(f"c{i}", upstreams)]
    assert moved == [], "adding a replica moves only conversations to the new one"
