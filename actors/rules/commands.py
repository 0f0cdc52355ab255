"""A tablet's remote commands: published once, their results recorded; pure logic, no I/O.

:class:`CommandRules` is the part of :class:`~actors.rules.tablet_session.TabletSession` that
handles commands. The hub hands the actor each queued command it has not published yet
(:class:`~actors.messages.CommandIn`, from the store); the actor publishes it on
``tablets/{id}/commands`` (QoS 1, to the tablet's persistent session, with an MQTT 5 message
expiry of what is left of it, so a tablet that reconnects later never gets it) unless it
already did in this session or it expired. The tablet's reports
(:class:`~contract.commands.CommandResultIn`) become :class:`~actors.effects.CommandEvent`
rows; the store keeps the first final state of each (a repeated report changes nothing).
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from actors.effects import CommandEvent, Outcome, Publish
from actors.messages import CommandIn, TabletConfig
from contract.commands import CommandResultIn, command_payload


class CommandRules:
    """The command decisions of a tablet session (mixed into ``TabletSession``)."""

    cfg: TabletConfig
    outstanding: dict[str, datetime]  # published in this session → when it expires

    def on_command(self, msg: CommandIn) -> Outcome:
        out = Outcome()
        self.outstanding = {k: v for k, v in self.outstanding.items() if v > msg.at}
        if msg.command_id in self.outstanding:
            return out  # already on its way: the tablet's persistent session holds it
        tablet = self.cfg.tablet_id
        left = (msg.expires_at - msg.at).total_seconds()
        if left <= 0:
            out.effects.append(CommandEvent(msg.command_id, tablet, "expired", msg.at, None))
            return out
        args = json.loads(msg.args_json)
        body = command_payload(msg.command_id, msg.name, args, msg.issued_at, msg.expires_at)
        topic = f"tablets/{tablet}/commands"
        # Whole seconds, rounded down: the broker counts from when it got it, in seconds.
        out.effects.append(Publish(topic, body, 1, False, expiry_s=max(1, math.floor(left))))
        out.effects.append(CommandEvent(msg.command_id, tablet, "sent", msg.at, None))
        self.outstanding = {**self.outstanding, msg.command_id: msg.expires_at}
        return out

    def on_command_result(self, msg: CommandResultIn) -> Outcome:
        out = Outcome()
        out.effects.append(
            CommandEvent(msg.command_id, msg.tablet_id, msg.status, msg.received_at, msg.detail)
        )
        if msg.status != "received":
            self.outstanding = {k: v for k, v in self.outstanding.items() if k != msg.command_id}
        return out
