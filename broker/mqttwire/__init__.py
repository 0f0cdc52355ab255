"""A minimal MQTT 3.1.1 client on ``asyncio.Protocol``: one object per connection, no task.

Used where per-connection or per-message cost matters: the simulator's thousands
of tablets and the hub's ingest session (see docs/performance.md).
"""
