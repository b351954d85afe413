"""Issue 14 on the production profile, read the way compose and Kubernetes read it
(YAML with anchors and merge keys; a pod's environment = its envFrom ConfigMaps and
Secrets plus its env). Rasa loading deploy/credentials.production.yml itself is
tests/channels/test_production_credentials.py (it needs the Rasa environment).

- no production profile serves the REST channel;
- Rasa runs with COA_ENV=production and holds the chat token's public key only;
  neither Rasa nor the action server ever holds the API's signing secrets;
- the API logs staff in with OIDC and signs chat tokens with its own key;
- the proxy forwards the Teams channel's real path, the web chat and health only;
- retention is scheduled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PRODUCTION_CREDENTIALS = "deploy/credentials.production.yml"
#: What would let a process mint tokens (or read the API's database directly).
API_SECRETS = {"COA_JWT_SECRET", "COA_CHAT_TOKEN_PRIVATE_KEY", "COA_CHAT_TOKEN_PRIVATE_KEY_FILE", "DATABASE_URL"}
REST_KEYS = {"rest", "socketio", "assistant.channels.rest.DevRestInput"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]


def k8s_docs() -> list[dict]:
    return [d for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]


def k8s(kind: str, name: str) -> dict:
    return next(d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name)


def pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def pod_env(workload: dict) -> dict[str, str]:
    """A container's environment as Kubernetes builds it."""
    main = pod_spec(workload)["containers"][0]
    env: dict[str, str] = {}
    for ref in main.get("envFrom", []):
        if "configMapRef" in ref:
            env.update(k8s("ConfigMap", ref["configMapRef"]["name"])["data"])
        else:
            env.update(k8s("Secret", ref["secretRef"]["name"])["stringData"])
    for item in main.get("env", []):
        env[item["name"]] = item.get("value", "<from ref>")
    return env


def credentials_of(command: list[str]) -> str:
    return command[command.index("--credentials") + 1]


def test_the_production_credentials_have_no_rest_channel() -> None:
    channels = yaml.safe_load((ROOT / PRODUCTION_CREDENTIALS).read_text())
    assert set(channels) == {"assistant.channels.webchat.WebChatInput", "assistant.channels.teams.TeamsInput"}
    assert not set(channels) & REST_KEYS
    assert all(channel.get("env") == "production" for channel in channels.values())
    assert channels["assistant.channels.teams.TeamsInput"]["tenant_id"] == "${COA_TEAMS_TENANT_ID}"


def test_compose_rasa_serves_no_rest_and_holds_only_the_public_key() -> None:
    services = compose()
    for name in ("rasa-1", "rasa-2"):
        rasa = services[name]
        assert credentials_of(rasa["command"]) == PRODUCTION_CREDENTIALS
        env = rasa["environment"]
        assert env["COA_ENV"] == "production", "without it the web chat fell back to the development key"
        assert env["COA_CHAT_TOKEN_PUBLIC_KEY_FILE"] == "/run/secrets/chat_token_public_key"
        assert not set(env) & API_SECRETS, f"{name} holds {set(env) & API_SECRETS}"
        assert set(rasa["secrets"]) == {"chat_token_public_key", "teams_staff"}
        assert env["COA_TEAMS_TENANT_ID"].startswith("${COA_TEAMS_TENANT_ID:?"), "an empty tenant is refused"
    actions = services["actions"]
    assert not set(actions["environment"]) & API_SECRETS and "secrets" not in actions


def test_compose_api_uses_oidc_and_signs_chat_tokens_with_its_own_key() -> None:
    services = compose()
    env = services["api"]["environment"]
    assert env["COA_ENV"] == "production" and env["COA_AUTH_MODE"] == "oidc"
    assert env["COA_OIDC_JWKS_URL"].startswith("${COA_OIDC_JWKS_URL:?")
    assert env["COA_CHAT_TOKEN_PRIVATE_KEY_FILE"] == "/run/secrets/chat_token_private_key"
    assert "chat_token_private_key" in services["api"]["secrets"]
    holders = [name for name, service in services.items() if "chat_token_private_key" in service.get("secrets", [])]
    assert holders == ["api"]
    assert "api.seed" not in str(services["api-migrate"]["command"]), "api.seed refuses production"


def test_compose_schedules_retention() -> None:
    retention = compose()["retention"]
    assert "python -m api.retention" in " ".join(retention["command"])
    assert "sleep 86400" in " ".join(retention["command"])
    assert retention["environment"]["COA_TRACKER_DB_URL"].endswith("@postgres:5432/rasa")


def test_k8s_rasa_serves_no_rest_and_holds_only_the_public_key() -> None:
    rasa = k8s("StatefulSet", "coa-rasa")
    assert credentials_of(pod_spec(rasa)["containers"][0]["command"]) == PRODUCTION_CREDENTIALS
    env = pod_env(rasa)
    assert env["COA_ENV"] == "production"
    assert "COA_CHAT_TOKEN_PUBLIC_KEY" in env
    assert not set(env) & API_SECRETS, f"Rasa holds {set(env) & API_SECRETS}"
    assert env["COA_TEAMS_STAFF_LOCATIONS"].startswith("/etc/coa/teams/")
    actions = pod_env(k8s("Deployment", "coa-actions"))
    assert not set(actions) & API_SECRETS, f"the action server holds {set(actions) & API_SECRETS}"
    assert "COA_SERVICE_TOKEN" in actions


def test_k8s_api_uses_oidc_and_signs_chat_tokens_with_its_own_key() -> None:
    env = pod_env(k8s("Deployment", "coa-api"))
    assert env["COA_ENV"] == "production" and env["COA_AUTH_MODE"] == "oidc"
    assert env["COA_OIDC_JWKS_URL"].startswith("https://")
    assert {"COA_CHAT_TOKEN_PRIVATE_KEY", "COA_JWT_SECRET"} <= set(env)
    mapping = yaml.safe_load(k8s("ConfigMap", "coa-oidc-mapping")["data"]["mapping.yml"])
    assert env["COA_OIDC_MAPPING"] == "/etc/coa/oidc/mapping.yml" and mapping["subject_claim"] == "oid"
    for doc in k8s_docs():
        api_pods = {"coa-api", "coa-api-migrate"}
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob") and doc["metadata"]["name"] not in api_pods:
            assert "COA_CHAT_TOKEN_PRIVATE_KEY" not in pod_env(doc), doc["metadata"]["name"]
    assert "api.seed" not in str(pod_spec(k8s("Job", "coa-api-migrate"))["containers"][0]["command"])


def test_k8s_schedules_retention_daily() -> None:
    job = k8s("CronJob", "coa-retention")
    assert re.fullmatch(r"\d+ \d+ \* \* \*", job["spec"]["schedule"]), "daily"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    main = pod_spec(job)["containers"][0]
    assert main["command"] == ["python", "-m", "api.retention"]
    env = pod_env(job)
    assert "COA_TRACKER_DB_URL" in env and not set(env) & API_SECRETS


def test_the_assistant_image_defaults_to_production_without_the_rest_channel() -> None:
    docker = (DEPLOY / "Dockerfile.assistant").read_text()
    assert re.search(r"^ENV .*\bCOA_ENV=production\b", docker, re.M)
    assert "RUN rm assistant/credentials.yml" in docker
    cmd = re.search(r"^CMD (\[.*?\])$", docker, re.M | re.S).group(1)
    assert PRODUCTION_CREDENTIALS in cmd and "assistant/credentials.yml" not in cmd


@pytest.mark.parametrize("where", ["haproxy.cfg", "k8s"])
def test_the_proxy_forwards_teams_web_chat_and_health_only(where: str) -> None:
    if where == "k8s":
        config = k8s("ConfigMap", "coa-haproxy")["data"]["haproxy.cfg"]
    else:
        config = (DEPLOY / "haproxy.cfg").read_text()
    rules = [line.strip() for line in config.splitlines() if not line.strip().startswith("#")]
    assert "acl teams        path /webhooks/teams/webhook" in rules
    # One criterion per acl line (HAProxy); "health read" is path / AND method GET.
    assert {"acl health       path /", "acl read         method GET"} <= set(rules)
    assert "http-request deny deny_status 403 unless teams or socketio or health read" in rules
    assert "http-request deny deny_status 413 if too_big" in rules
    assert not any("/webhooks/rest" in line or "botframework" in line for line in rules)
    deny = rules.index("http-request deny deny_status 403 unless teams or socketio or health read")
    assert deny < min(i for i, line in enumerate(rules) if line.startswith("use_backend"))
