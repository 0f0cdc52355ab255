"""An emergency push as an admin writes it: the form's raw values, their checks, the draft.

The same :class:`Draft` comes from the panel's form (:func:`parse_form`) and from the
JSON API (:class:`PushIn`); what needs the store (the playlist and targets being the
tenant's) is checked in :mod:`web.emergency.pushes`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import FormData

from contract.payloads import PlaylistItem
from store.playlists import Target

EXPIRY_CHOICES = (("15", "15 minutes"), ("60", "1 hour"), ("240", "4 hours"))
MAX_EXPIRY_MIN = 7 * 24 * 60
MAX_REASON = 500
MAX_ITEMS = 100
MAX_TARGETS = 500
FLEET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TABLET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CAR_ID = re.compile(r"^\S{1,128}$")
SEPARATORS = re.compile(r"[\s,]+")

Errors = dict[str, str]


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked push: an existing playlist of the tenant or items composed inline."""

    playlist_id: str | None
    items: tuple[PlaylistItem, ...]
    all_tablets: bool
    fleets: tuple[str, ...]
    cars: tuple[str, ...]
    tablets: tuple[str, ...]
    expires_min: int
    reason: str

    @property
    def targets(self) -> list[Target]:
        if self.all_tablets:
            return [Target("all", None)]
        return (
            [Target("fleet", f) for f in self.fleets]
            + [Target("car", c) for c in self.cars]
            + [Target("tablet", t) for t in self.tablets]
        )


@dataclass(frozen=True, slots=True)
class PushForm:
    """The form's values as typed, to show them again (and carry them through the confirm step)."""

    source: str = "library"
    playlist_id: str = ""
    items: str = ""
    scope: str = "all"
    fleets: tuple[str, ...] = ()
    cars: str = ""
    tablets: str = ""
    expires: str = "60"
    expires_custom: str = ""
    reason: str = ""
    push_id: str = ""  # chosen by the confirm step, so that sending twice sends once

    @classmethod
    def from_form(cls, form: FormData) -> PushForm:
        def text(name: str, default: str = "") -> str:
            value = form.get(name)
            return value.strip() if isinstance(value, str) else default

        fleets = tuple(f.strip() for f in form.getlist("fleet") if isinstance(f, str) and f.strip())
        return cls(
            text("source", "library"),
            text("playlist_id"),
            text("items"),
            text("scope", "all"),
            fleets,
            text("cars"),
            text("tablets"),
            text("expires", "60"),
            text("expires_custom"),
            text("reason"),
            text("push_id"),
        )


def parse_form(form: PushForm) -> tuple[Draft | None, Errors]:
    """The draft, or the errors keyed by field (each a sentence an admin can act on)."""
    errors: Errors = {}
    playlist_id: str | None = None
    items: tuple[PlaylistItem, ...] = ()
    if form.source == "library":
        if not form.playlist_id:
            errors["playlist_id"] = "Pick a playlist from the library, or compose one."
        playlist_id = form.playlist_id
    elif form.source == "inline":
        items = _items(form.items, errors)
    else:
        errors["source"] = "Pick a playlist from the library, or compose one."
    all_tablets = form.scope == "all"
    fleets: tuple[str, ...] = ()
    cars: tuple[str, ...] = ()
    tablets: tuple[str, ...] = ()
    if form.scope == "selected":
        fleets = _ids(" ".join(form.fleets), FLEET_ID, "fleet", "fleets", errors)
        cars = _ids(form.cars, CAR_ID, "car", "cars", errors)
        tablets = _ids(form.tablets, TABLET_ID, "tablet", "tablets", errors)
        if not (fleets or cars or tablets) and not errors.keys() & {"fleets", "cars", "tablets"}:
            errors["targets"] = "Choose at least one fleet, car or tablet (or all tablets)."
        elif len(fleets) + len(cars) + len(tablets) > MAX_TARGETS:
            errors["targets"] = f"At most {MAX_TARGETS} targets in one push."
    elif not all_tablets:
        errors["targets"] = "Choose all tablets, or some fleets, cars or tablets."
    expires_min = _expiry(form, errors)
    reason = form.reason
    if not reason:
        errors["reason"] = "Give a reason: it goes into the audit log."
    elif len(reason) > MAX_REASON:
        errors["reason"] = f"The reason is limited to {MAX_REASON} characters."
    if errors:
        return None, errors
    draft = Draft(playlist_id, items, all_tablets, fleets, cars, tablets, expires_min, reason)
    return draft, {}


def _items(text: str, errors: Errors) -> tuple[PlaylistItem, ...]:
    """JSON lines (one item each) or one JSON array, each checked as a PlaylistItem."""
    if not text:
        errors["items"] = "Compose at least one item (one JSON object per line)."
        return ()
    if text.startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            errors["items"] = f"The items are not valid JSON: {exc.msg} (line {exc.lineno})."
            return ()
        lines = [json.dumps(r) for r in raw] if isinstance(raw, list) else [text]
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_ITEMS:
        errors["items"] = f"At most {MAX_ITEMS} items in one playlist."
        return ()
    items: list[PlaylistItem] = []
    for n, line in enumerate(lines, start=1):
        try:
            items.append(PlaylistItem.model_validate_json(line))
        except ValidationError as exc:
            errors["items"] = f"Item {n}: {_first_error(exc)}."
            return ()
    positions = [i.position for i in items if i.position is not None]
    if len(set(positions)) != len(positions):
        errors["items"] = "Item positions must be unique."
        return ()
    return tuple(items)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first["type"] in ("json_invalid", "json_type"):
        return "not a JSON object"
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def _ids(
    text: str, pattern: re.Pattern[str], kind: str, key: str, errors: Errors
) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(i for i in SEPARATORS.split(text) if i))
    if bad := [i for i in ids if not pattern.match(i)]:
        errors[key] = f"Not a valid {kind} id: {', '.join(bad[:5])}."
    return ids


def _expiry(form: PushForm, errors: Errors) -> int:
    if form.expires in dict(EXPIRY_CHOICES):
        return int(form.expires)
    if form.expires != "custom":
        errors["expires"] = "Choose when the push expires."
        return 0
    try:
        minutes = int(form.expires_custom)
    except ValueError:
        errors["expires"] = "Give the expiry in whole minutes."
        return 0
    if not 1 <= minutes <= MAX_EXPIRY_MIN:
        errors["expires"] = f"The expiry must be between 1 and {MAX_EXPIRY_MIN} minutes (7 days)."
    return minutes


def form_of(draft: Draft) -> PushForm:
    """The form that gives this draft back (the confirm step's hidden fields)."""
    # One line (a JSON array): a hidden field keeps it as it is.
    items = (
        "[" + ", ".join(i.model_dump_json(exclude_none=True) for i in draft.items) + "]"
        if draft.items
        else ""
    )
    expires = str(draft.expires_min)
    custom = expires not in dict(EXPIRY_CHOICES)
    return PushForm(
        source="inline" if draft.items else "library",
        playlist_id=draft.playlist_id or "",
        items=items,
        scope="all" if draft.all_tablets else "selected",
        fleets=draft.fleets,
        cars=" ".join(draft.cars),
        tablets=" ".join(draft.tablets),
        expires="custom" if custom else expires,
        expires_custom=expires if custom else "",
        reason=draft.reason,
        push_id=str(uuid.uuid4()),
    )


class PushIn(BaseModel):
    """``POST /api/v1/pushes``: a library playlist or inline items, targets, expiry, reason."""

    playlist_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    items: Annotated[list[PlaylistItem], Field(min_length=1, max_length=MAX_ITEMS)] | None = None
    targets: Annotated[
        list[str],
        Field(
            min_length=1, max_length=MAX_TARGETS, examples=[["all"], ["fleet:north", "car:SG1234"]]
        ),
    ]
    expires_minutes: Annotated[int, Field(ge=1, le=MAX_EXPIRY_MIN)]
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON)]

    def draft(self) -> tuple[Draft | None, Errors]:
        if (self.playlist_id is None) == (self.items is None):
            return None, {"playlist_id": "Give either playlist_id or items."}
        kinds: dict[str, list[str]] = {"fleet": [], "car": [], "tablet": []}
        all_tablets = False
        for text in self.targets:
            if text == "all":
                all_tablets = True
                continue
            kind, _, ident = text.partition(":")
            if kind not in kinds or not ident:
                return None, {
                    "targets": f"Invalid target {text!r}: use all, fleet:ID, car:ID or tablet:ID."
                }
            kinds[kind].append(ident)
        items = "\n".join(i.model_dump_json(exclude_none=True) for i in self.items or ())
        form = PushForm(
            source="library" if self.playlist_id else "inline",
            playlist_id=self.playlist_id or "",
            items=items,
            scope="all" if all_tablets else "selected",
            fleets=tuple(kinds["fleet"]),
            cars=" ".join(kinds["car"]),
            tablets=" ".join(kinds["tablet"]),
            expires="custom",
            expires_custom=str(self.expires_minutes),
            reason=self.reason.strip(),
        )
        return parse_form(form)
