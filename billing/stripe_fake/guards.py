"""What stands before the API: keys, rate limits and idempotency, with Stripe's answers.

- **Keys.** ``Authorization: Bearer sk_test_…`` (or ``rk_test_…``; HTTP Basic with the key as
  user works too, as with curl ``-u``). No key, or a key that is not a test key: 401.
- **Rate limits.** Off unless asked for; then a token bucket per key of ``per_second`` requests a
  second. Over it: 429 ``rate_limit`` with ``Retry-After``. ``force_429`` queues refusals for
  the next requests: ``rate_limit`` ones, which stripe-python does *not* retry (Stripe wants the
  caller to slow down), or ``lock_timeout`` ones, sent with ``Stripe-Should-Retry: true``, which
  it retries by itself (with its own backoff; it never reads ``Retry-After``).
- **Idempotency.** A POST's ``Idempotency-Key`` is remembered for 24 hours (fake clock) with the
  parameters and the answer: the same key and parameters replay the answer with
  ``Idempotent-Replayed: true``; the same key with other parameters is a 400
  ``idempotency_error``. As at Stripe, answers to requests that never ran (refused parameters,
  401, 429) are not kept, so a corrected retry runs.
"""

import base64
import binascii
import time
from collections import deque
from dataclasses import dataclass, field

from .state import DAY, Json, StripeError

IDEMPOTENCY_WINDOW = DAY
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")


def api_key(authorization: str) -> str:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        key = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(credentials.strip()).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    else:
        key = ""
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY').",
        )
    if not key.startswith(TEST_KEY_PREFIXES):
        raise StripeError(
            401,
            f"Invalid API Key provided: {key[:8]}{'*' * 4}{key[-4:]}. The Stripe fake takes "
            "test keys only (sk_test_… or rk_test_…).",
            code="api_key_invalid",
        )
    return key


def rate_limit_error(code: str = "rate_limit") -> StripeError:
    if code == "lock_timeout":
        return StripeError(
            429,
            "This object cannot be accessed right now because another API request or Stripe "
            "process is currently accessing it. If you see this error intermittently, retry "
            "the request.",
            code="lock_timeout",
            headers={"Stripe-Should-Retry": "true", "Retry-After": "1"},
        )
    return StripeError(
        429,
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
        headers={"Retry-After": "1"},
    )


@dataclass
class Limits:
    """Per-key token buckets and queued forced refusals."""

    per_second: float | None = None
    forced: deque[str] = field(default_factory=deque)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def force(self, count: int, code: str) -> None:
        if code not in ("rate_limit", "lock_timeout"):
            raise ValueError("A forced 429 is 'rate_limit' or 'lock_timeout'.")
        self.forced.extend([code] * count)

    def check(self, key: str) -> None:
        if self.forced:
            raise rate_limit_error(self.forced.popleft())
        if not self.per_second:
            return
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (self.per_second, now))
        tokens = min(self.per_second, tokens + (now - at) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise rate_limit_error()
        self._buckets[key] = (tokens - 1, now)


@dataclass(frozen=True)
class Stored:
    fingerprint: tuple[str, str, str]
    status: int
    body: Json
    headers: dict[str, str]
    at: int
    request_id: str


class Idempotency:
    """Remembered answers by (api key, idempotency key)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str], Stored] = {}

    def lookup(
        self, key: tuple[str, str], fingerprint: tuple[str, str, str], now: int
    ) -> Stored | None:
        stored = self._answers.get(key)
        if stored is None:
            return None
        if stored.at <= now - IDEMPOTENCY_WINDOW:
            del self._answers[key]
            return None
        if stored.fingerprint != fingerprint:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key[1]}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
            )
        return stored

    def keep(self, key: tuple[str, str], stored: Stored) -> None:
        # Stripe keeps what an endpoint answered once it began work: successes, card errors,
        # server errors; not a refusal before work began (bad parameters, a missing object).
        if stored.status < 400 or stored.status == 402 or stored.status >= 500:
            self._answers[key] = stored
