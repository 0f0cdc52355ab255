"""One declaration per device message (contract/) drives everything derived from it: the
payload model, the message, the stored row, the writer's COPY and the panel's view."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest
from pydantic import Field, ValidationError

from actors.effects import HeartbeatRow
from contract.heartbeat import COLUMNS, Heartbeat, HeartbeatIn, HeartbeatPayload
from contract.playlist_ack import AckIn, PlaylistAck
from contract.records import record
from contract.schema import Column, NotSent, Reader, Sent, columns, payload_model, sent_paths
from contract.status import Status, StatusIn
from hub.inbound import translate
from store.heartbeats import COPY_HEARTBEATS, HEARTBEAT_ROW, HEARTBEAT_TYPES
from store.tablets import HEARTBEATS
from store.tablets import Heartbeat as ShownHeartbeat

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
BODY = {
    "v": 1,
    "ts": "2024-05-01T09:59:59+00:00",
    "seq": 3,
    "boot_id": "b",
    "playlist_etag": "e",
    "now_playing": {"ad_id": "a", "campaign_id": "c"},
    "battery": 9,
    "charging": True,
    "disk_free_mb": 5,
    "app_version": "1",
    "lat": 1.5,
    "lon": 2.5,
    "x": 1,
}


def names(message: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(message)]


def test_the_stored_row_is_the_message() -> None:
    assert HeartbeatRow is HeartbeatIn
    assert [c.attr for c in COLUMNS] == names(HeartbeatIn)


def test_the_copy_is_of_the_declared_columns() -> None:
    copy = COPY_HEARTBEATS.as_string(None)
    listed = copy[copy.index("(") + 1 : copy.index(")")].split(", ")
    assert listed == [f'"{c.name}"' for c in COLUMNS]
    assert [c.pg for c in COLUMNS] == HEARTBEAT_TYPES
    _, hb = translate("tablets/t1/heartbeat", json.dumps(BODY).encode(), False, NOW, 4096)
    assert HEARTBEAT_ROW(hb) == tuple(getattr(hb, name) for name in names(HeartbeatIn))
    assert HEARTBEAT_ROW(hb)[names(HeartbeatIn).index("extra_json")] == '{"x":1}'


def test_the_payload_model_has_every_sent_field() -> None:
    sent = sent_paths(HeartbeatIn)
    assert set(names(HeartbeatIn)) - set(sent) == {"tablet_id", "received_at", "extra_json"}
    top = {path.partition(".")[0] for path in sent.values()}
    assert set(Heartbeat.model_fields) == {"v"} | top
    _, hb = translate("tablets/t1/heartbeat", json.dumps(BODY).encode(), False, NOW, 4096)
    assert (hb.ad_id, hb.campaign_id) == ("a", "c")
    assert hb.device_ts == datetime(2024, 5, 1, 9, 59, 59, tzinfo=UTC)
    for attr in sent:  # every sent field reaches the message
        assert getattr(hb, attr) is not None


def test_the_panel_shows_the_stored_columns() -> None:
    shown = [c.name for c in COLUMNS if c.name != "tablet_id"]
    assert names(ShownHeartbeat) == shown
    query = HEARTBEATS.as_string(None)
    assert query.startswith("SELECT " + ", ".join(f'"h"."{c}"' for c in shown) + " FROM")


def test_status_and_ack_payloads_are_their_messages_sent_fields() -> None:
    assert set(Status.model_fields) == {"state", "ts"}
    assert set(sent_paths(StatusIn)) == {"state", "device_ts"}
    assert set(PlaylistAck.model_fields) == {"etag", "status", "detail"}
    assert set(names(AckIn)) - set(sent_paths(AckIn)) == {"tablet_id", "received_at"}


@record
class WithTemperature(HeartbeatIn):
    """A heartbeat with one more field: its one line is all it takes."""

    temp_c: Annotated[float, Field(ge=-50, le=150, allow_inf_nan=False)] | None


def test_a_new_field_is_one_line() -> None:
    model = payload_model(WithTemperature, "Heartbeat", HeartbeatPayload)
    parsed = model.model_validate_json(json.dumps({**BODY, "temp_c": 41.5}))
    hb = Reader(WithTemperature)(parsed, tablet_id="t1", received_at=NOW, extra_json=None)
    assert (hb.temp_c, hb.seq) == (41.5, 3)
    assert columns(WithTemperature)[-1].name == "temp_c"
    assert columns(WithTemperature)[-1].pg == "float8"
    with pytest.raises(ValidationError, match="temp_c"):
        model.model_validate_json(json.dumps({**BODY, "temp_c": 151}))
    assert model.model_validate_json(json.dumps(BODY)).temp_c is None  # type: ignore[attr-defined]


def test_markers_name_what_the_types_do_not() -> None:
    @dataclass(frozen=True, slots=True)
    class Reading:
        at: Annotated[datetime, NotSent(), Column("time")]
        count: Annotated[int, Column(pg="int4")]
        inner: Annotated[str | None, Sent("outer.inner")]

    assert [(c.name, c.pg) for c in columns(Reading)] == [
        ("time", "timestamptz"),
        ("count", "int4"),
        ("inner", "text"),
    ]
    model = payload_model(Reading, "Reading", HeartbeatPayload)
    with pytest.raises(ValidationError):  # the object holds all of its fields
        model.model_validate_json('{"v": 1, "count": 1, "outer": {}}')

    @dataclass(frozen=True, slots=True)
    class Unsized:
        count: int

    with pytest.raises(TypeError, match="column type"):
        columns(Unsized)
