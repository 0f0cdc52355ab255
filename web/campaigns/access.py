"""Who sees which campaigns: an admin every campaign of the tenant (and acts for any
advertiser), an advertiser user those of the account it acts for; other roles none (403).
A campaign outside the scope does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException
from psycopg_pool import AsyncConnectionPool

from store import advertisers
from store.campaigns import Scope
from store.users import User
from web.deps import BearerUser, FormLogin, Login, LoginDep, PoolDep

UNLINKED = "your user acts for no advertiser account yet: an admin links it on the Advertisers page"


async def scope_of(pool: AsyncConnectionPool, user: User) -> Scope:
    if user.is_admin:
        return Scope(user.tenant_id)
    if user.role != "advertiser":
        raise HTTPException(403, "campaigns are for admins and advertisers")
    async with pool.connection() as conn:
        account = await advertisers.of_user(conn, user.user_id)
    if account is None:
        raise HTTPException(403, UNLINKED)
    return Scope(user.tenant_id, account)


@dataclass(frozen=True, slots=True)
class Seat:
    """The signed-in user and the campaigns they see."""

    login: Login
    scope: Scope

    @property
    def user(self) -> User:
        return self.login.user


async def _seat(pool: PoolDep, login: LoginDep) -> Seat:
    return Seat(login, await scope_of(pool, login.user))


async def _form_seat(pool: PoolDep, login: FormLogin) -> Seat:
    return Seat(login, await scope_of(pool, login.user))


async def _api_scope(pool: PoolDep, user: BearerUser) -> tuple[User, Scope]:
    return user, await scope_of(pool, user)


SeatDep = Annotated[Seat, Depends(_seat)]
FormSeat = Annotated[Seat, Depends(_form_seat)]
ApiSeat = Annotated[tuple[User, Scope], Depends(_api_scope)]


def admin_only(seat: Seat) -> None:
    if not seat.user.is_admin:
        raise HTTPException(403, "this needs the admin role")
