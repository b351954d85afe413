"""Validation of the Bot Connector's bearer token on incoming Teams activities.

What Rasa 3.6's ``botframework`` connector gets wrong and this module does:
- the algorithm list is fixed (``ALGORITHMS``), never taken from the token's
  header (no ``alg: none``, no HS256 keyed with the public key);
- issuer, audience (= our app id), expiry and the ``serviceUrl`` claim (must equal
  the activity's ``serviceUrl``) are checked; a key's ``endorsements`` must
  include the activity's channel id when the key lists them;
- the signing keys come from the OpenID configuration's ``jwks_uri`` through
  aiohttp with timeouts (never blocking the event loop), are cached, refreshed
  daily, and refetched once when a token names an unknown key id (key rotation),
  at most once per ``min_refresh_interval`` so that tokens with random key ids
  cannot make us hammer the key endpoint.

Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)

ALGORITHMS: tuple[str, ...] = ("RS256",)
BOTFRAMEWORK_ISSUER = "https://api.botframework.com"
BOTFRAMEWORK_OPENID_CONFIG_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
# Microsoft's guidance allows five minutes of clock skew.
DEFAULT_LEEWAY_SECONDS = 300
BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)

FetchJson = Callable[[str], Awaitable[Any]]


class AuthError(Exception):
    """The activity is not from the Bot Connector for our bot: answer 401, process nothing."""


def normalise_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


class JwksCache:
    """Signing keys of the Bot Connector, by key id."""

    def __init__(
        self,
        openid_config_url: str,
        *,
        timeout: float = 10.0,
        max_age: float = 24 * 3600.0,
        min_refresh_interval: float = 60.0,
        fetch_json: FetchJson | None = None,
    ) -> None:
        self.openid_config_url = openid_config_url
        self.timeout = timeout
        self.max_age = max_age
        self.min_refresh_interval = min_refresh_interval
        self._fetch_json = fetch_json or self._http_get_json
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None   # last successful fetch (monotonic)
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._generation = 0
        self._lock: asyncio.Lock | None = None
        self.fetch_count = 0

    async def _http_get_json(self, url: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            return await response.json(content_type=None)

    def _get_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def refresh(self, seen_generation: int | None = None) -> None:
        """Fetches the OpenID configuration and its key set; keeps the old keys on failure."""
        async with self._get_lock():
            if seen_generation is not None and seen_generation != self._generation:
                return  # another request refreshed while we waited
            self._attempted_at = time.monotonic()
            self.fetch_count += 1
            try:
                config = await self._fetch_json(self.openid_config_url)
                jwks = await self._fetch_json(str(config["jwks_uri"]))
                keys = {str(key["kid"]): key for key in jwks["keys"] if isinstance(key, dict) and "kid" in key}
            except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError) as error:
                logger.warning("could not fetch the Bot Framework signing keys from %s: %s",
                               self.openid_config_url, error)
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            self._generation += 1

    async def get(self, kid: str) -> dict[str, Any] | None:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > self.max_age
        # A failed fetch is retried after a few seconds, not on every request.
        if stale and (self._attempted_at is None or now - self._attempted_at >= min(self.min_refresh_interval, 5.0)):
            await self.refresh(self._generation)
        key = self._keys.get(kid)
        if key is None and (
            self._attempted_at is None or time.monotonic() - self._attempted_at >= self.min_refresh_interval
        ):
            logger.info("unknown signing key id %r: refetching the key set", kid)
            await self.refresh(self._generation)
            key = self._keys.get(kid)
        return key


class BotFrameworkTokenValidator:
    """Validates ``Authorization: Bearer <jwt>`` of an incoming activity."""

    def __init__(
        self,
        app_id: str,
        keys: JwksCache,
        *,
        issuer: str = BOTFRAMEWORK_ISSUER,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
    ) -> None:
        if not app_id:
            raise ValueError("the Teams channel needs the bot's app id (the token audience)")
        self.app_id = app_id
        self.keys = keys
        self.issuer = issuer
        self.leeway = leeway

    async def validate(self, authorization: str | None, service_url: Any, channel_id: Any = None) -> dict[str, Any]:
        """The token's claims, or ``AuthError``."""
        match = BEARER.match(authorization or "")
        if not match:
            raise AuthError("no bearer token")
        token = match.group(1)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError(f"malformed token: {error}") from None
        # Checked here for a clear log line; jwt.decode enforces ALGORITHMS again.
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"algorithm {header.get('alg')!r} not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token names no key id")
        jwk = await self.keys.get(kid)
        if jwk is None:
            raise AuthError(f"unknown signing key {kid!r}")
        public_key = self._public_key(jwk)
        endorsements = jwk.get("endorsements")
        if isinstance(endorsements, list) and channel_id not in endorsements:
            raise AuthError(f"signing key is not endorsed for channel {channel_id!r}")
        try:
            claims = jwt.decode(
                token,
                key=public_key,
                algorithms=list(ALGORITHMS),
                audience=self.app_id,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise AuthError(f"token rejected: {error}") from None
        claimed = claims.get("serviceUrl", claims.get("serviceurl"))
        if not isinstance(claimed, str) or not isinstance(service_url, str) or (
            normalise_url(claimed) != normalise_url(service_url)
        ):
            raise AuthError("serviceUrl claim does not match the activity's serviceUrl")
        return claims

    @staticmethod
    def _public_key(jwk: dict[str, Any]) -> RSAPublicKey:
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") not in ALGORITHMS:
            raise AuthError("signing key is not an RS256 signature key")
        try:
            key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        except (jwt.InvalidKeyError, ValueError, TypeError) as error:
            raise AuthError(f"unusable signing key: {error}") from None
        if not isinstance(key, RSAPublicKey):
            raise AuthError("signing key is not an RSA public key")
        return key
