"""A user's own settings and personal API tokens, as the profile page makes and lists them.

The store keeps a token's hash (:mod:`store.api_tokens`); the token is made here
(:func:`web.security.new_personal_token`) and shown once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

from psycopg_pool import AsyncConnectionPool

from store import api_tokens, profiles
from store.api_tokens import ApiToken, TooManyTokens
from store.users import User
from web.security import new_personal_token

LIFETIMES = {"30d": ("30 days", 30), "90d": ("90 days", 90), "365d": ("1 year", 365)}
DEFAULT_LIFETIME = "90d"
NAME_MAX = 100


class ProfileInputError(ValueError):
    """A setting or token form that cannot be used; the message says why."""


@cache
def zones() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def check_zone(text: str) -> str | None:
    """The chosen zone; None for "my fleets' zone"; raises for a name that is no zone."""
    name = text.strip()
    if not name:
        return None
    if name not in zones():
        raise ProfileInputError(
            f"{name[:64]!r} is not a time zone: choose one from the list, like Asia/Singapore."
        )
    return name


async def set_zone(pool: AsyncConnectionPool, user: User, text: str) -> None:
    chosen = check_zone(text)
    async with pool.connection() as conn:
        await profiles.set_timezone(conn, user, chosen)


async def tokens(pool: AsyncConnectionPool, user: User) -> list[ApiToken]:
    async with pool.connection() as conn:
        return await api_tokens.tokens(conn, user)


async def create_token(
    pool: AsyncConnectionPool, user: User, name: str, lifetime: str
) -> tuple[str, str]:
    """A new token: (its name, the token itself, to show once)."""
    label = " ".join(name.split())
    if not label:
        raise ProfileInputError("Give the token a name, e.g. the script that will use it.")
    if len(label) > NAME_MAX:
        raise ProfileInputError(f"The name is too long: at most {NAME_MAX} characters.")
    if lifetime not in LIFETIMES:
        raise ProfileInputError("Choose how long the token works: 30 days, 90 days or 1 year.")
    expires = datetime.now(UTC) + timedelta(days=LIFETIMES[lifetime][1])
    token, digest, hint = new_personal_token()
    async with pool.connection() as conn:
        try:
            await api_tokens.create(conn, user, label, digest, hint, expires)
        except TooManyTokens:
            raise ProfileInputError(
                f"You have {api_tokens.MAX_LIVE} working tokens: revoke one you no longer use."
            ) from None
    return label, token


async def revoke_token(pool: AsyncConnectionPool, user: User, token_id: int) -> bool:
    async with pool.connection() as conn:
        return await api_tokens.revoke(conn, user, token_id)
