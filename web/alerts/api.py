"""The incidents' JSON API (bearer tokens): list and read them, acknowledge them, add notes.

The panel's alerts view (web/alerts/pages.py) does the same for signed-in users.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from store.incidents import Incident, Note
from web.alerts import incidents
from web.alerts.incidents import NoteInvalid, Status
from web.alerts.pages import incident_id_or_404
from web.deps import ApiUser, PoolDep
from web.grid.pages import FleetQuery

router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["incidents"],
    responses={404: {"description": "no such incident in scope"}},
)

StateQuery = Annotated[
    Status,
    Query(
        description=(
            "open: every unresolved one; unacked/acked: unresolved ones by acknowledgement;"
            " resolved: resolved in the last 7 days"
        )
    ),
]


KindQuery = Annotated[
    Literal[
        "offline",
        "flapping",
        "download_failed",
        "low_storage",
        "crash_loop",
        "playback_stuck",
        "not_charging",
        "clock_skew",
        "app_outdated",
    ]
    | None,
    Query(description="only incidents of this kind"),
]


class IncidentOut(BaseModel):
    incident: Incident
    notes: list[Note]


class NoteIn(BaseModel):
    body: str = Field(description="1–2000 characters once trimmed")


@router.get("")
async def list_incidents(
    pool: PoolDep,
    user: ApiUser,
    state: StateQuery = "open",
    fleet: FleetQuery = None,
    kind: KindQuery = None,
) -> list[Incident]:
    """Incidents in scope, newest first (at most 200)."""
    return await incidents.listing(pool, user, state, datetime.now(UTC), fleet, kind=kind)


@router.get("/{incident_id}")
async def get_incident(incident_id: str, pool: PoolDep, user: ApiUser) -> IncidentOut:
    found = incident_id_or_404(incident_id)
    incident = await incidents.get(pool, user, found)
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    notes = await incidents.notes(pool, user, [found])
    return IncidentOut(incident=incident, notes=notes[found])


@router.post("/{incident_id}/ack")
async def ack_incident(incident_id: str, pool: PoolDep, user: ApiUser) -> Incident:
    """Acknowledge it; a second acknowledgement keeps the first one's time and author."""
    incident = await incidents.acknowledge(pool, user, incident_id_or_404(incident_id))
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return incident


@router.post(
    "/{incident_id}/notes",
    status_code=201,
    responses={422: {"description": "empty or longer than 2000 characters"}},
)
async def add_note(
    incident_id: str, pool: PoolDep, user: ApiUser, note: NoteIn | None = None
) -> Note:
    found = incident_id_or_404(incident_id)
    if await incidents.get(pool, user, found) is None:  # before the body: 404 whatever is sent
        raise HTTPException(404, f"no incident {incident_id!r}")
    try:
        added = await incidents.add_note(pool, user, found, note.body if note else "")
    except NoteInvalid as exc:
        raise HTTPException(422, str(exc)) from exc
    if added is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return added
