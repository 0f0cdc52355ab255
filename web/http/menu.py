"""Where each role starts: the brand link, the error pages' way back, and ``/`` for roles
without the live grid all lead to the signed-in user's own start page."""

from __future__ import annotations

from store.users import User

HOMES = {
    "admin": ("/", "the live grid"),
    "fleet_owner": ("/", "the live grid"),
    "agent": ("/agent/leads", "your leads"),
    "advertiser": ("/profile", "your profile"),
    "driver": ("/driver", "your earnings"),
}


def home_of(user: User | None) -> str:
    """The user's start page; the sign-in page before signing in."""
    return "/login" if user is None else HOMES[user.role][0]


def home_label(user: User | None) -> str:
    return "the sign-in page" if user is None else HOMES[user.role][1]
