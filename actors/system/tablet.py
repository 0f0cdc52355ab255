"""The thespian actor of one tablet: holds its :class:`TabletSession`."""

from __future__ import annotations

from typing import Any

from actors.effects import Outcome
from actors.messages import (
    AckIn,
    CampaignBook,
    CommandIn,
    DesiredPlaylist,
    Expired,
    HeartbeatIn,
    MediaStatusIn,
    Register,
    StatusIn,
    TabletInit,
    TargetingTick,
)
from actors.rules.tablet_session import TabletSession
from actors.system.contained import ContainedActor, copy_flat, restore_flat
from contract.commands import CommandResultIn


class TabletActor(ContainedActor):
    """Created by the registry on a tablet's first message; keyed by tablet id.

    A handler that raises leaves the session as it was before the message (the session is
    plain Python, copied before each message) and is reported with the tablet id."""

    ROLLBACK = ("session",)
    KIND = "tablet"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session: TabletSession | None = None
        self.watchdog: Any = None

    def receiveMsg_TabletInit(self, msg: TabletInit, sender: Any) -> None:
        # The registry made and resumed the session (it sent what resuming produced) and
        # keeps a reference: a fleet-wide push updates it in place (registry.py).
        self.outbox, self.watchdog, self.session = msg.outbox, msg.watchdog, msg.session

    def receiveMsg_Register(self, msg: Register, sender: Any) -> None:
        if self.session is not None:
            self.session.reconfigure(msg.snapshot.config)

    def receiveMsg_HeartbeatIn(self, msg: HeartbeatIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_heartbeat(msg))

    def receiveMsg_StatusIn(self, msg: StatusIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_status(msg))

    def receiveMsg_Expired(self, msg: Expired, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_expired(msg))

    def receiveMsg_DesiredPlaylist(self, msg: DesiredPlaylist, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_desired(msg))

    def receiveMsg_AckIn(self, msg: AckIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_ack(msg))

    def receiveMsg_MediaStatusIn(self, msg: MediaStatusIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_media_status(msg))

    def receiveMsg_CampaignBook(self, msg: CampaignBook, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_book(msg))

    def receiveMsg_TargetingTick(self, msg: TargetingTick, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_tick(msg.at))

    def receiveMsg_CommandIn(self, msg: CommandIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_command(msg))

    def receiveMsg_CommandResultIn(self, msg: CommandResultIn, sender: Any) -> None:
        if self.session is not None:
            self._emit(self.session.on_command_result(msg))

    def receiveUnrecognizedMessage(self, msg: Any, sender: Any) -> None:
        """Unknown messages (and thespian system messages) are dropped."""

    def checkpoint(self) -> dict[str, Any]:
        return {"session": copy_flat(self.session)}  # its containers hold datetimes only

    def restore(self, saved: dict[str, Any]) -> None:
        # In place: the registry holds the same session object.
        if self.session is not None and saved["session"] is not None:
            restore_flat(self.session, saved["session"])

    def failure_key(self, message: Any) -> str:
        if self.session is not None:
            return self.session.cfg.tablet_id
        return super().failure_key(message)

    def _emit(self, out: Outcome) -> None:
        if out.effects or out.timers:
            self.emit(out.effects, out.timers)
