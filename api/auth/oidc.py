"""Production authentication: OpenID Connect bearer tokens (Microsoft Entra ID).

``COA_AUTH_MODE=oidc`` makes every token (API ``Authorization: Bearer`` header and
the page cookie alike) an access token of the organisation's identity provider:

* signature: RS256 only (the algorithm list is fixed, never the token's ``alg``),
  keys from the provider's JWKS (``COA_OIDC_JWKS_URL``) through PyJWT's
  ``PyJWKClient``: the key set is cached (``COA_OIDC_JWKS_CACHE_SECONDS``) and fetched
  again when a token names a key id that is not in the cache, so a key rotation by
  the provider needs no restart;
* ``iss`` must equal ``COA_OIDC_ISSUER``, ``aud`` must equal ``COA_OIDC_AUDIENCE``,
  ``exp``/``iat`` are required;
* role and locations come from the token's app roles / groups through the mapping
  file ``COA_OIDC_MAPPING`` (YAML, see ``oidc_mapping.example.yml``), not from code.
  A token with no mapped role is refused (401).

``COA_AUTH_MODE=local`` (default) keeps the HS256 tokens of ``make token`` and the
login form (``api/auth/service.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
import yaml

from api.auth.schemas import ROLES, User

OIDC_ALGORITHMS = ["RS256"]


class OidcError(Exception):
    pass


@dataclass(frozen=True)
class ClaimMapping:
    """Which claims carry who the user is, and what their values mean for us."""

    subject_claim: str
    role_claims: tuple[str, ...]
    location_claims: tuple[str, ...]
    roles: tuple[tuple[str, str], ...]  # (claim value, role), file order = priority
    locations: dict[str, tuple[str, ...]]  # claim value → location codes

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "mapping") -> ClaimMapping:
        if not isinstance(data, dict):
            raise OidcError(f"{source}: expected a mapping at the top level")
        roles_raw = data.get("roles") or {}
        if not isinstance(roles_raw, dict) or not roles_raw:
            raise OidcError(f"{source}: 'roles' must map claim values to roles")
        roles: list[tuple[str, str]] = []
        for value, role in roles_raw.items():
            if role not in ROLES:
                raise OidcError(f"{source}: roles[{value!r}] = {role!r} is not one of {', '.join(ROLES)}")
            roles.append((str(value), role))
        locations_raw = data.get("locations") or {}
        if not isinstance(locations_raw, dict):
            raise OidcError(f"{source}: 'locations' must map claim values to location codes")
        locations: dict[str, tuple[str, ...]] = {}
        for value, codes in locations_raw.items():
            codes_list = [codes] if isinstance(codes, str) else codes
            if not isinstance(codes_list, list) or not all(isinstance(c, str) and c.strip() for c in codes_list):
                raise OidcError(f"{source}: locations[{value!r}] must be a code or a list of codes")
            locations[str(value)] = tuple(code.strip().upper() for code in codes_list)

        def claims(key: str, default: list[str]) -> tuple[str, ...]:
            raw = data.get(key, default)
            raw = [raw] if isinstance(raw, str) else raw
            if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
                raise OidcError(f"{source}: '{key}' must be a claim name or a list of claim names")
            return tuple(raw)

        return cls(
            subject_claim=str(data.get("subject_claim", "oid")),
            role_claims=claims("role_claims", ["roles", "groups"]),
            location_claims=claims("location_claims", ["roles", "groups"]),
            roles=tuple(roles),
            locations=locations,
        )

    def user_from_claims(self, claims: dict[str, Any]) -> User:
        sub = claims.get(self.subject_claim) or claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise OidcError(f"claim '{self.subject_claim}' (or 'sub') must be a non-empty string")
        role_values = _values(claims, self.role_claims)
        role = next((role for value, role in self.roles if value in role_values), None)
        if role is None:
            raise OidcError("no role: none of the token's roles/groups is mapped to a role")
        location_values = _values(claims, self.location_claims)
        codes = sorted({code for value in location_values for code in self.locations.get(value, ())})
        return User(sub=sub, role=role, locations=tuple(codes))


def _values(claims: dict[str, Any], names: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for name in names:
        raw = claims.get(name)
        if isinstance(raw, str):
            found.add(raw)
        elif isinstance(raw, list):
            found.update(item for item in raw if isinstance(item, str))
    return found


@lru_cache(maxsize=8)
def load_mapping(path: str) -> ClaimMapping:
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise OidcError(f"cannot read the OIDC mapping file {file}: {exc}") from exc
    return ClaimMapping.from_dict(data, source=str(file))


@lru_cache(maxsize=8)
def jwks_client(url: str, cache_seconds: int, cooldown_seconds: float = 30) -> jwt.PyJWKClient:
    # cache_jwk_set: the whole set is kept for `cache_seconds`; an unknown `kid`
    # triggers one refetch (PyJWKClient.get_signing_key), at most once per
    # `cooldown_seconds`: that is how a rotation is picked up. No per-key cache
    # (cache_keys): it never expires, so a key the provider withdrew would stay valid.
    return jwt.PyJWKClient(
        url,
        cache_jwk_set=cache_seconds > 0,
        lifespan=max(cache_seconds, 1),
        cache_keys=False,
        timeout=5,
        cooldown_duration=cooldown_seconds,
    )


def decode_oidc_token(
    token: str,
    *,
    issuer: str,
    audience: str,
    jwks_url: str,
    mapping: ClaimMapping,
    cache_seconds: int = 300,
    cooldown_seconds: float = 30,
    leeway: int = 60,
) -> User:
    try:
        key = jwks_client(jwks_url, cache_seconds, cooldown_seconds).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=OIDC_ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iat", "iss", "aud"], "verify_signature": True},
        )
    except jwt.PyJWKClientError as exc:
        raise OidcError(f"signing key: {exc}") from exc
    except jwt.PyJWTError as exc:
        raise OidcError(str(exc)) from exc
    return mapping.user_from_claims(claims)
