"""Remote commands as a tablet runs them (docs/mqtt-contract.md, "Commands").

Each ``command_id`` runs at most once (a redelivery gets its result again); one whose
``expires_at`` passed is refused. ``received`` is reported at once, then ``succeeded`` or
``failed``: a reboot or an app restart starts a new boot (the next heartbeat carries a new
``boot_id``), an update installs the version (the next heartbeats report it), volume and
brightness are kept, a screenshot is drawn (Pillow) and ``PUT`` to its upload link (aiohttp,
loopback only).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from PIL import Image, ImageDraw

from devtools.simulator.addresses import loopback_host

log = logging.getLogger(__name__)
KEEP_IDS = 1000  # the ids a tablet remembers (it runs each once)
Publish = Callable[[str, bytes], bool]


def commands_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/commands"


def result_topic(tablet_id: str) -> str:
    return f"tablets/{tablet_id}/commands/result"


def picture(tablet_id: str, playing: str | None) -> bytes:
    """What the tablet's screen shows now, as a PNG."""
    image = Image.new("RGB", (640, 360), (20, 40, 70))
    draw = ImageDraw.Draw(image)
    draw.text((24, 24), f"tablet {tablet_id}", fill=(255, 255, 255))
    draw.text((24, 60), f"playing {playing or 'nothing'}", fill=(200, 220, 255))
    draw.text((24, 96), datetime.now(UTC).isoformat(timespec="seconds"), fill=(200, 200, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class TabletCommands:
    """A tablet's command runner; ``reboot`` is called for a reboot, an app restart or an
    update (a new boot), ``playing`` says what the screen shows."""

    def __init__(
        self,
        tablet_id: str,
        publish: Publish,
        reboot: Callable[[str | None], None],
        playing: Callable[[], str | None],
    ) -> None:
        self.tablet_id = tablet_id
        self._publish = publish
        self._reboot = reboot
        self._playing = playing
        self._ran: OrderedDict[str, tuple[str, str | None]] = OrderedDict()  # id → its result
        self.levels: dict[str, int] = {}
        self.screenshots = 0

    def _result(self, command_id: str, status: str, detail: str | None = None) -> None:
        body = {"v": 1, "command_id": command_id, "status": status, "detail": detail}
        self._publish(result_topic(self.tablet_id), json.dumps(body).encode())

    def _done(self, command_id: str, status: str, detail: str | None) -> None:
        self._ran[command_id] = (status, detail)
        self._result(command_id, status, detail)

    def on_message(self, payload: bytes) -> None:
        try:
            command = json.loads(payload)
            command_id, name = str(command["command_id"]), str(command["name"])
            args: dict[str, Any] = dict(command.get("args") or {})
            expires = datetime.fromisoformat(str(command["expires_at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("tablet %s: a command it cannot read", self.tablet_id)
            return
        if command_id in self._ran:  # redelivered: run once, answer again
            self._result(command_id, *self._ran[command_id])
            return
        if len(self._ran) >= KEEP_IDS:
            self._ran.popitem(last=False)
        if expires <= datetime.now(UTC):
            self._done(command_id, "failed", "expired")
            return
        self._ran[command_id] = ("received", None)
        self._result(command_id, "received")
        self._run(command_id, name, args)

    def _run(self, command_id: str, name: str, args: dict[str, Any]) -> None:
        if name in ("set_volume", "set_brightness"):
            self.levels[name] = int(args.get("level", 0))
            self._done(command_id, "succeeded", f"{name[4:]} {self.levels[name]}")
        elif name in ("reboot", "restart_app"):
            self._done(command_id, "succeeded", "restarting")
            self._reboot(None)
        elif name == "update_app":
            version = str(args.get("version", ""))
            self._done(command_id, "succeeded", f"installed {version}")
            self._reboot(version)
        elif name in ("refresh_manifest", "clear_cache"):
            self._done(command_id, "succeeded", None)
        elif name == "screenshot":
            task = asyncio.get_running_loop().create_task(
                self._screenshot(command_id, str(args.get("upload_url", "")))
            )
            task.add_done_callback(_log_failure)
        else:
            self._done(command_id, "failed", f"unknown command {name!r}")

    async def _screenshot(self, command_id: str, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._done(command_id, "failed", "no upload link")
            return
        try:
            loopback_host(parts.hostname)  # the simulator stays on this machine
        except ValueError as exc:
            self._done(command_id, "failed", str(exc))
            return
        data = await asyncio.to_thread(picture, self.tablet_id, self._playing())
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.put(url, data=data, headers={"Content-Type": "image/png"}) as answer,
            ):
                if answer.status != 201:
                    self._done(command_id, "failed", f"upload answered {answer.status}")
                    return
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._done(command_id, "failed", f"upload failed: {exc}")
            return
        self.screenshots += 1
        self._done(command_id, "succeeded", f"{len(data)} bytes uploaded")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("screenshot failed: %s", task.exception())
