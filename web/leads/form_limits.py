"""Rate limits of the public lead form: per client address and per QR code.

Every submission counts (valid or not), in moving windows (``limits``) kept in the store
(web/rate_limits.py), so every panel process shares one budget. The per-address
limit is loose because passengers on one mobile network often share an address (carrier
NAT); the per-code limit stops one printed or photographed code from being flooded.

Fail closed: while the store cannot count, the store error reaches the app's handler and
the form answers 503 with ``Retry-After`` (the lead could not be stored either).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from web.rate_limits import wait_s


@dataclass(frozen=True, slots=True)
class Limited:
    """A submission over a limit: the message and when to try again."""

    message: str
    retry_after_s: int


class LeadLimits:
    def __init__(self, per_client: int = 20, per_code: int = 30, window_s: float = 600.0) -> None:
        self.by_client = RateLimitItemPerSecond(per_client, math.ceil(window_s))
        self.by_code = RateLimitItemPerSecond(per_code, math.ceil(window_s))

    async def check(
        self, limiter: MovingWindowRateLimiter, client: str, code: str
    ) -> Limited | None:
        """Count one submission unless a limit is already reached; then say how long to wait."""
        by_client, by_code = ("lead-address", client), ("lead-code", code)
        wait = max(
            await wait_s(limiter, self.by_client, *by_client),
            await wait_s(limiter, self.by_code, *by_code),
        )
        # Another process may have taken the last place meanwhile: then this one waits too.
        if wait == 0 and not (
            await limiter.hit(self.by_client, *by_client)
            and await limiter.hit(self.by_code, *by_code)
        ):
            wait = max(
                await wait_s(limiter, self.by_client, *by_client),
                await wait_s(limiter, self.by_code, *by_code),
                1.0,
            )
        if wait > 0:
            return Limited(
                "Too many submissions from here. Please wait a few minutes and try again.",
                max(1, math.ceil(wait)),
            )
        return None


def lead_limits(request: Request) -> LeadLimits:
    """The app's limits, made on first use (their counts are in the store)."""
    state = request.app.state
    limits: LeadLimits | None = getattr(state, "lead_limits", None)
    if limits is None:
        settings = state.settings
        limits = state.lead_limits = LeadLimits(
            settings.lead_submits_per_client, settings.lead_submits_per_code
        )
    return limits


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"
