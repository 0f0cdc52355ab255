"""TLS for fleethub's own MQTT links (``mqtts://`` URLs): one client context per CA file.

The broker's certificate must chain to a trusted CA — the system's, or the one in
``FLEETHUB_MQTT_CA_FILE`` — and name the host the URL gives: hostname checks are always on
(in compose, the broker container answers to its public name on the compose network, so
that one name serves tablets outside and the hub and panel inside; docs/operations.md).
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path


@functools.cache
def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context that trusts ``ca_file`` (PEM), or the system's CAs when None.

    Cached: every connection to one broker shares the context (loading a CA bundle costs
    milliseconds, and a simulator opens thousands of connections); a new CA file is read
    at the next start.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
