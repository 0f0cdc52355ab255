"""One declaration per device message, and what is derived from it.

A message is a frozen dataclass whose field types carry their bounds (pydantic ``Field``
and validators, :mod:`contract.fields`) and, where its name and type do not say it all,
a marker in its ``Annotated`` metadata:

- ``NotSent()``: set by the hub (from the topic, its clock, the unknown fields), not by
  the tablet;
- ``Sent("ts")``, ``Sent("now_playing.ad_id")``: its place in the payload when not under
  its own name; a dotted name is a field of an optional object that then holds all of
  its fields (others in it are ignored, as unknown fields are in every device payload);
- ``Column("time", "jsonb")``: its store column when not of its own name or of the type
  its Python type gives (an ``int`` always names one: int2, int4 or int8).

Derived from it: :func:`payload_model` (the pydantic model of the payload: every sent
field, optional exactly when it may be None), :class:`Reader` (the message from a parsed
payload) and :func:`columns` (the row the store keeps, in the field order).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from types import NoneType, UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import AwareDatetime, BaseModel, ConfigDict, create_model

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

# The column type of a field whose Python type says it (``int`` does not: its bound does).
_PG_TYPES: dict[Any, str] = {
    str: "text",
    bool: "bool",
    float: "float8",
    datetime: "timestamptz",
    AwareDatetime: "timestamptz",
}


@dataclass(frozen=True, slots=True)
class NotSent:
    """Set by the hub, not part of the payload."""


@dataclass(frozen=True, slots=True)
class Sent:
    path: str  # "ts", or "object.field"


@dataclass(frozen=True, slots=True)
class Column:
    name: str | None = None
    pg: str | None = None


@dataclass(frozen=True, slots=True)
class StoredColumn:
    attr: str  # the message's field
    name: str  # the store's column
    pg: str  # its type, as ``COPY … (FORMAT BINARY)`` sends it
    type: Any  # the field's Python type, without its bounds


def _markers(hint: Any) -> list[object]:
    """Every ``Annotated`` metadata item of ``hint``, through unions."""
    if get_origin(hint) is Annotated:
        inner, *meta = get_args(hint)
        return [*meta, *_markers(inner)]
    if get_origin(hint) in (Union, UnionType):
        return [m for arg in get_args(hint) for m in _markers(arg)]
    return []


def _marker(hint: Any, kind: type[T]) -> T | None:
    return next((m for m in _markers(hint) if isinstance(m, kind)), None)


def _bare(hint: Any) -> Any:
    """``hint`` without its outer ``Annotated`` layers."""
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    return hint


def _options(hint: Any) -> tuple[Any, ...]:
    """The types a union of ``hint`` allows (itself if it is no union)."""
    hint = _bare(hint)
    return get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)


def _nullable(hint: Any) -> bool:
    return NoneType in _options(hint)


def _not_none(hint: Any) -> Any:
    """The one type besides None an optional field allows, with its bounds."""
    others = [t for t in _options(hint) if t is not NoneType]
    if len(others) != 1:
        raise TypeError(f"{hint!r}: a field of a sent object has one type")
    return others[0]


def _fields(message: type[Any]) -> dict[str, Any]:
    """The message's fields and their type hints (with their bounds), in order."""
    hints = get_type_hints(message, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(message)}


def sent_paths(message: type[Any]) -> dict[str, str]:
    """The message's sent fields and their place in the payload."""
    paths = {}
    for attr, hint in _fields(message).items():
        if _marker(hint, NotSent) is None:
            sent = _marker(hint, Sent)
            paths[attr] = attr if sent is None else sent.path
    return paths


def payload_model(message: type[Any], name: str, base: type[B]) -> type[B]:
    """The pydantic model of the message's payload: ``base`` (its config, fields that are
    not stored such as ``v``, validators) and every sent field."""
    hints = _fields(message)
    fields: dict[str, Any] = {}
    objects: dict[str, dict[str, Any]] = {}
    for attr, path in sent_paths(message).items():
        hint = hints[attr]
        outer, _, inner = path.partition(".")
        if inner:
            objects.setdefault(outer, {})[inner] = (_not_none(hint), ...)
            fields.setdefault(outer, None)  # in the place of its first field
        else:
            fields[outer] = (hint, None if _nullable(hint) else ...)
    for outer, inner_fields in objects.items():
        model = create_model(
            outer.title().replace("_", ""),
            __config__=ConfigDict(strict=True, extra="ignore"),
            __module__=message.__module__,
            **inner_fields,
        )
        fields[outer] = (model | None, None)
    return create_model(
        name, __base__=base, __module__=message.__module__, __doc__=base.__doc__, **fields
    )


def columns(message: type[Any]) -> tuple[StoredColumn, ...]:
    """The row the store keeps of the message: one column per field, in order."""
    plain = get_type_hints(message)
    out = []
    for attr, hint in _fields(message).items():
        column = _marker(hint, Column) or Column()
        pg = column.pg or _PG_TYPES.get(_not_none(plain[attr]))
        if pg is None:
            raise TypeError(f"{message.__name__}.{attr}: name its column type (Column(pg=…))")
        out.append(StoredColumn(attr, column.name or attr, pg, plain[attr]))
    return tuple(out)


class Reader(Generic[T]):
    """Builds the message from its parsed payload and the fields the hub sets."""

    def __init__(self, message: type[T]) -> None:
        self._message = message
        self._flat: list[tuple[str, str]] = []
        self._nested: list[tuple[str, str, str]] = []
        for attr, path in sent_paths(message).items():
            outer, _, inner = path.partition(".")
            if inner:
                self._nested.append((attr, outer, inner))
            else:
                self._flat.append((attr, outer))

    def __call__(self, payload: BaseModel, **hub_set: Any) -> T:
        values = {attr: getattr(payload, name) for attr, name in self._flat}
        for attr, outer, inner in self._nested:
            sent = getattr(payload, outer)
            values[attr] = None if sent is None else getattr(sent, inner)
        return self._message(**values, **hub_set)
