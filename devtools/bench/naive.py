"""The naive baseline of ``fleethub bench --compare``: a heartbeat subscriber as a typical team
would write it, kept here so that the comparison runs the same code every time.

A paho client (its network thread, QoS 1, acknowledged on receipt by paho) parses each
heartbeat in ``on_message`` and appends a row to a list; the main thread inserts the list
every 100 ms with ``executemany`` and commits (store/bench_naive.py). No actors, no
validation beyond ``json.loads``, no dedupe, no state: what it does is the floor of what
storing heartbeats costs in Python with these libraries.

Run by devtools/bench/compare.py as its own process; prints ``subscribed`` once the broker
acknowledged the subscription and stops on SIGTERM (after one last insert). Its password
comes in ``FLEETHUB_BENCH_PASSWORD``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from store.bench_naive import NaiveRow, insert_heartbeats

BATCH_EVERY_S = 0.1
TOPIC = "tablets/+/heartbeat"


def main(args: argparse.Namespace) -> None:
    rows: list[NaiveRow] = []
    lock = threading.Lock()
    stop = threading.Event()

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        client.subscribe(TOPIC, qos=1)

    def on_subscribe(_c: mqtt.Client, _u: Any, _mid: int, _codes: Any, _p: Any) -> None:
        print("subscribed", flush=True)

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        hb = json.loads(msg.payload)
        playing = hb.get("now_playing") or {}
        row: NaiveRow = (
            datetime.now(UTC),
            msg.topic.split("/")[1],
            datetime.fromisoformat(hb["ts"]),
            hb["seq"],
            hb["boot_id"],
            hb.get("playlist_etag"),
            playing.get("ad_id"),
            playing.get("campaign_id"),
            hb.get("battery"),
            hb.get("charging"),
            hb.get("disk_free_mb"),
            hb.get("app_version"),
            hb.get("lat"),
            hb.get("lon"),
        )
        with lock:
            rows.append(row)

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=True)
    client.username_pw_set(args.client_id, os.environ["FLEETHUB_BENCH_PASSWORD"])
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(args.host, args.port, keepalive=60)
    client.loop_start()
    try:
        with psycopg.connect(args.database_url) as conn:
            while True:
                stopping = stop.wait(BATCH_EVERY_S)
                with lock:
                    batch = rows[:]
                    rows.clear()
                if batch:
                    insert_heartbeats(conn, batch)
                if stopping:
                    break
    finally:
        client.loop_stop()
        client.disconnect()


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devtools.bench.naive")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", required=True, help="Also its username.")
    p.add_argument("--database-url", required=True)
    return p.parse_args(argv)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
