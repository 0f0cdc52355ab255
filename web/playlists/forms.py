"""Reading the playlist forms: item rows and assignments, with a clear message per row or field.

Forms are read by hand (not as FastAPI ``Form`` parameters) so the size limit is
checked before the body is parsed; see :func:`web.playlists.pages.limited_form`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData

from actors.rules.dayparts import ALWAYS, Daypart, parse_time
from config.errors import ConfigError
from contract.manifest import Priority
from contract.media import LibraryItem
from contract.payloads import PlaylistItem
from store.playlists import Target

ITEM_FIELDS = ("ad_id", "campaign_id", "url", "sha256", "duration_ms")
# A row picked from the media library also carries its media and version (hidden fields).
MEDIA_FIELDS = ("media_id", "media_version")
MAX_ITEMS = 500
MAX_NAME = 120
HINTS = {
    "ad_id": "ad id: required, at most 128 characters",
    "campaign_id": "campaign id: required, at most 128 characters",
    "url": "URL: must start with http:// or https:// (at most 2048 characters)",
    "sha256": "SHA-256: must be 64 hex characters (the file's digest)",
    "duration_ms": "duration: a whole number of milliseconds, more than 0 and at most "
    "3600000 (1 h)",
}


class FormError(Exception):
    """A form that cannot be used; the message is shown to the admin as is."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One row of the items table as typed, with what is wrong with it."""

    ad_id: str = ""
    campaign_id: str = ""
    url: str = ""
    sha256: str = ""
    duration_ms: str = ""
    errors: tuple[str, ...] = ()
    media_id: str = ""
    media_version: str = ""

    @property
    def blank(self) -> bool:
        return not any((self.ad_id, self.campaign_id, self.url, self.sha256, self.duration_ms))

    @classmethod
    def of(cls, item: PlaylistItem) -> ItemRow:
        media = (
            (item.media_id, str(item.media_version)) if isinstance(item, LibraryItem) else ("", "")
        )
        return cls(
            item.ad_id, item.campaign_id, item.url, item.sha256, str(item.duration_ms), (), *media
        )


@dataclass(frozen=True, slots=True)
class ItemsForm:
    name: str
    rows: list[ItemRow]
    items: list[PlaylistItem]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _texts(form: FormData, key: str) -> list[str]:
    return [v.strip() for v in form.getlist(key) if isinstance(v, str)]


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def read_items(form: FormData) -> ItemsForm:
    """The name and item rows of a create/edit form; blank rows are skipped."""
    name = _text(form, "name")
    columns = {f: _texts(form, f) for f in ITEM_FIELDS + MEDIA_FIELDS}
    count = max(len(c) for c in columns.values())
    errors: list[str] = []
    if not name:
        errors.append("Give the playlist a name.")
    elif len(name) > MAX_NAME:
        errors.append(f"The name is too long (at most {MAX_NAME} characters).")
    rows: list[ItemRow] = []
    items: list[PlaylistItem] = []
    for n in range(count):
        ad, campaign, url, sha, duration, media_id, media_version = (
            columns[f][n] if n < len(columns[f]) else "" for f in ITEM_FIELDS + MEDIA_FIELDS
        )
        row = ItemRow(ad, campaign, url, sha, duration, (), media_id, media_version)
        if row.blank:
            continue
        item, problems = _item(row)
        if item is not None:
            items.append(item)
        errors.extend(f"Row {len(rows) + 1}: {p}." for p in problems)
        rows.append(replace(row, errors=tuple(problems)))
    if not rows:
        errors.append("Add at least one item.")
    elif len(rows) > MAX_ITEMS:
        errors.append(f"A playlist holds at most {MAX_ITEMS} items; this one has {len(rows)}.")
    return ItemsForm(name, rows, items if not errors else [], errors)


def _item(row: ItemRow) -> tuple[PlaylistItem | None, list[str]]:
    data: dict[str, object] = {f: getattr(row, f) for f in ITEM_FIELDS}
    data["sha256"] = row.sha256.lower()
    problems: list[str] = []
    try:
        data["duration_ms"] = int(row.duration_ms)
    except ValueError:
        problems.append(HINTS["duration_ms"])
        data["duration_ms"] = 1
    model: type[PlaylistItem] = PlaylistItem
    if row.media_id:
        model = LibraryItem
        data["media_id"] = row.media_id
        data["media_version"] = int(row.media_version) if row.media_version.isdigit() else 0
    try:
        item = model.model_validate(data)
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        problems.extend(HINTS[f] for f in ITEM_FIELDS if f in fields)
        if fields & set(MEDIA_FIELDS):
            problems.append("library media: pick it from the library again")
        return None, problems
    return (None if problems else item), problems


class AssignForm(BaseModel):
    """The assignment form's fields as posted (``datetime-local`` values are in the user's
    time zone)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    target_kind: Literal["all", "fleet", "car", "tablet"]
    target_id: Annotated[str, Field(max_length=128)] = ""
    priority: Literal["normal", "emergency"] = "normal"
    valid_from: Annotated[str, Field(max_length=40)] = ""
    valid_until: Annotated[str, Field(max_length=40)] = ""
    reason: Annotated[str, Field(max_length=500)] = ""
    daypart_start: Annotated[str, Field(max_length=8)] = ""
    daypart_end: Annotated[str, Field(max_length=8)] = ""


ASSIGN_HINTS = {
    "target_kind": "Choose a target: all tablets, a fleet, a car or a tablet.",
    "target_id": "The target id is at most 128 characters.",
    "priority": "The priority is normal or emergency.",
    "valid_from": "Valid from is a date and time.",
    "valid_until": "Valid until is a date and time.",
    "reason": "The reason is at most 500 characters.",
    "daypart_start": "The start time is a time of day (HH:MM).",
    "daypart_end": "The end time is a time of day (HH:MM).",
}


@dataclass(frozen=True, slots=True)
class AssignRequest:
    target: Target
    priority: Priority
    valid_from: datetime
    valid_until: datetime | None
    reason: str | None
    daypart: Daypart = ALWAYS


def form_values(form: FormData) -> dict[str, str]:
    """The form's text fields (to fill the form in again after an error).

    The day checkboxes (several ``days`` values) come back as one comma-separated value.
    """
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    values["days"] = ",".join(_texts(form, "days"))
    return values


def read_assignment(form: FormData, now: datetime, zone: str = "UTC") -> AssignRequest:
    try:
        fields = AssignForm.model_validate(form_values(form))
    except ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0])
        raise FormError(ASSIGN_HINTS.get(where, "The form is not valid.")) from None
    if fields.target_kind == "all":
        target = Target("all", None)
    elif not fields.target_id:
        raise FormError(f"Give the {fields.target_kind} id to assign to.")
    else:
        target = Target(fields.target_kind, fields.target_id)
    valid_from = _when(fields.valid_from, "Valid from", zone) or now
    valid_until = _when(fields.valid_until, "Valid until", zone)
    daypart = read_daypart(_texts(form, "days"), fields.daypart_start, fields.daypart_end)
    return _request(
        AssignRequest(
            target, fields.priority, valid_from, valid_until, fields.reason or None, daypart
        ),
        now,
    )


def _request(wanted: AssignRequest, now: datetime) -> AssignRequest:
    """The checks the form and the JSON API share."""
    if wanted.valid_until is not None and wanted.valid_until <= now:
        raise FormError("Valid until is already past.")
    if wanted.valid_until is not None and wanted.valid_until <= wanted.valid_from:
        raise FormError("Valid until must be after valid from.")
    if wanted.priority == "emergency" and not wanted.daypart.always:
        raise FormError(
            "An emergency assignment cannot have days or times: it plays around "
            "the clock until it expires. Clear them, or choose normal priority."
        )
    return wanted


class AssignmentIn(BaseModel):
    """An assignment as the JSON API takes it (times of day are the fleet's local time)."""

    model_config = ConfigDict(extra="forbid")
    target: Annotated[str, Field(max_length=140, description="tablet:ID, car:ID, fleet:ID or all")]
    priority: Literal["normal", "emergency"] = "normal"
    valid_from: AwareDatetime | None = Field(None, description="null: now")
    valid_until: AwareDatetime | None = Field(None, description="null: until revoked")
    reason: Annotated[str | None, Field(max_length=500)] = None
    daypart_days: Annotated[
        list[Annotated[int, Field(ge=1, le=7)]] | None,
        Field(min_length=1, max_length=7, description="ISO weekdays (1 = Monday); null: every day"),
    ] = None
    daypart_start: time | None = Field(None, description="fleet local time; null: all day")
    daypart_end: time | None = Field(
        None, description="fleet local time; before the start: runs overnight"
    )


def api_assignment(body: AssignmentIn, now: datetime) -> AssignRequest:
    if any(t is not None and t.tzinfo is not None for t in (body.daypart_start, body.daypart_end)):
        raise FormError("Daypart times are the fleet's local time: give them without an offset.")
    try:
        target = Target.parse(body.target)
        daypart = Daypart.of(body.daypart_days, body.daypart_start, body.daypart_end)
    except ConfigError as exc:
        raise FormError(str(exc)) from None
    return _request(
        AssignRequest(
            target,
            body.priority,
            body.valid_from or now,
            body.valid_until,
            body.reason or None,
            daypart,
        ),
        now,
    )


def read_daypart(days: list[str], start: str, end: str) -> Daypart:
    """The day checkboxes (ISO weekdays; none ticked: every day) and start/end times."""
    try:
        picked = sorted({int(d) for d in days})
    except ValueError:
        raise FormError("Days are ISO weekdays: 1 (Monday) to 7 (Sunday).") from None
    if start and not end:
        raise FormError("Give an end time too (or clear the start time for all day).")
    if end and not start:
        raise FormError("Give a start time too (or clear the end time for all day).")
    try:
        start_at = parse_time(start, "start") if start else None
        end_at = parse_time(end, "end") if end else None
        return Daypart.of(picked or None, start_at, end_at)
    except ConfigError as exc:
        raise FormError(str(exc)) from None


def _when(text: str, label: str, zone: str = "UTC") -> datetime | None:
    """A ``datetime-local`` value read in ``zone`` (an explicit offset is kept)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(f"{label} is not a date and time (YYYY-MM-DDTHH:MM).") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(zone))
