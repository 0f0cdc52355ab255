"""aiomqtt's client, with its socket-writer registration guarded against a closed socket.

paho asks for a writer on every queued packet; aiomqtt 2.5 schedules ``loop.add_writer``
with ``call_soon_threadsafe`` (paho may ask from its connect thread). When the connection
drops between the publish and the scheduled call, the loop registers a closed descriptor:
``OSError: [Errno 9]`` logged as an unhandled callback error, or, if the number was
already reused by another socket, a writer on someone else's socket. The registration
here checks, when it runs, that the socket is still the client's and still open.
"""

from __future__ import annotations

from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt


class Client(aiomqtt.Client):
    """An ``aiomqtt.Client`` whose deferred ``add_writer`` skips a socket closed meanwhile."""

    def _on_socket_register_write(
        self,
        client: mqtt.Client,
        userdata: Any,
        sock: Any,
    ) -> None:
        fileno = sock.fileno()

        def write() -> None:
            # As aiomqtt does: a failed write (a broken pipe) ends the connection.
            try:
                client.loop_write()
            except Exception as exc:
                if not self._disconnected.done():
                    self._disconnected.set_exception(exc)

        def register() -> None:
            current = client.socket()
            if current is not None and current is sock and current.fileno() == fileno:
                self._loop.add_writer(fileno, write)

        self._loop.call_soon_threadsafe(register)
