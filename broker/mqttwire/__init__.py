"""A minimal MQTT 5 client on ``asyncio.Protocol``: one object per connection, no task.

Packets are built, written and read by the ``mqtt5`` codec (Rust, sans-I/O); the
session (connect, keepalive, acknowledgements, flow control) is ours. Used where
per-connection or per-message cost matters: the simulator's thousands of tablets
and the hub's ingest session (see docs/performance.md).
"""
