"""The human summary of a benchmark report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _ms(value: object) -> str:
    return f"{float(str(value)) * 1000:.0f} ms" if value is not None else "—"


def print_summary(report: dict[str, Any], console: Console) -> None:
    cfg = report["config"]
    table = Table("figure", "value", title=f"fleethub bench {report['started_at']}")
    hb = report.get("heartbeats", {})
    if hb:
        table.add_row(
            "tablets connected",
            f"{report['connect']['tablets']} in {report['connect']['elapsed_s']:.1f} s",
        )
        table.add_row(
            "heartbeats offered",
            f"{hb['offered_rate_per_s']:.0f}/s for "
            f"{cfg['duration_s']:.0f} s ({hb['sent']} sent, {hb['send_failed']} failed)",
        )
        table.add_row(
            "heartbeats committed",
            f"{hb['committed']} ({hb['committed_rate_per_s'] or 0:.0f}/s sustained)",
        )
        lat = hb["latency_s"]
        table.add_row(
            "published → committed",
            f"p50 {_ms(lat['p50'])} · p99 {_ms(lat['p99'])} · max {_ms(lat['max'])}",
        )
        table.add_row(
            f"hub ({cfg['hub_shards']} process(es))",
            f"{hb['hub_cpu_percent_of_one_core']:.0f} % of a core · "
            f"peak RSS {hb['hub_peak_rss_mib']:.0f} MiB",
        )
    off = report.get("offline_detection")
    if off:
        err = off["error_s"]
        table.add_row(
            "offline detection error",
            f"p50 {_ms(err['p50'])} · p99 {_ms(err['p99'])} ({off['timeouts_detected']} timeouts)",
        )
    fan = report.get("fanout")
    if fan:
        lat = fan["latency_s"]
        table.add_row(
            "playlist fan-out",
            f"{fan['received']}/{fan['targeted']} tablets · "
            f"p50 {_ms(lat['p50'])} · p99 {_ms(lat['p99'])}",
        )
    cmd = report.get("command")
    if cmd:
        sent, result = cmd["issued_to_published_s"], cmd["published_to_result_s"]
        table.add_row(
            "command to every tablet",
            f"{cmd['succeeded']}/{cmd['targets']} succeeded · published p50 {_ms(sent['p50'])}"
            f" · p99 {_ms(sent['p99'])} · result p50 {_ms(result['p50'])} ·"
            f" p99 {_ms(result['p99'])} · all stored in {cmd['all_results_stored_s']} s",
        )
    res = report.get("resident_actors")
    if res:
        table.add_row(
            "resident tablet actors",
            f"{res['actors_resident']} · process RSS "
            f"{res['process_rss_mib']:.0f} MiB (+{res['rss_growth_mib']:.0f} MiB, "
            f"{res['bytes_per_tablet']} B/tablet)",
        )
    m = report["machine"]
    table.caption = (
        f"{m['cpus']} CPUs · {m['memory_gib']} GiB · {m['cpu_model']} · Python {m['python']}"
    )
    console.print(table)


def print_panel_summary(report: dict[str, Any], console: Console) -> None:
    grid, stream = report["grid"], report["stream"]
    table = Table("figure", "value", title=f"fleethub bench --panel {report['started_at']}")
    resp = grid["response_s"]
    table.add_row("grid page", f"{grid['tiles']} tiles · {grid['bytes'] / 2**20:.1f} MiB")
    table.add_row(
        "grid, first response",
        f"first byte {_ms(grid['first_response_first_byte_s'])} · first tile"
        f" {_ms(grid['first_response_first_tile_s'])} · whole page"
        f" {_ms(grid['first_response_s'])} (every tile rendered)",
    )
    table.add_row(
        "grid response (whole page)",
        f"p50 {_ms(resp['p50'])} · p99 {_ms(resp['p99'])}"
        f" · max {_ms(resp['max'])} ({resp['count']} requests)",
    )
    for key, label in (("first_byte_s", "first byte"), ("first_tile_s", "first tile")):
        part = grid[key]
        table.add_row(
            f"grid response ({label})", f"p50 {_ms(part['p50'])} · p99 {_ms(part['p99'])}"
        )
    table.add_row(
        "SSE events",
        f"{stream['events']} for {stream['changed']} changed tablets"
        f" (missing {stream['missing']}, extra {stream['extra']})",
    )
    for key, label in (
        ("latency_notified_s", "change → SSE (transition, NOTIFY)"),
        ("latency_polled_s", "change → SSE (heartbeat-only, polled)"),
    ):
        lat = stream[key]
        table.add_row(label, f"p50 {_ms(lat['p50'])} · p99 {_ms(lat['p99'])}")
    m = report["machine"]
    table.caption = (
        f"{m['cpus']} CPUs · {m['memory_gib']} GiB · {m['cpu_model']} · Python {m['python']}"
    )
    console.print(table)


def print_plays_summary(report: dict[str, Any], console: Console) -> None:
    cfg, plays = report["config"], report["plays"]
    table = Table("figure", "value", title=f"fleethub bench --plays {report['started_at']}")
    table.add_row(
        "tablets connected",
        f"{report['connect']['tablets']} in {report['connect']['elapsed_s']:.1f} s",
    )
    offered = (
        f"{plays['events_offered']} ({cfg['rate']:.0f}/s for {cfg['duration_s']:.0f} s,"
        f" batches of {cfg['batch_min']}–{cfg['batch_max']})"
    )
    table.add_row("events offered", offered)
    sent = (
        f"{plays['events_sent']} in {plays['batches_sent']} batches"
        f" ({plays['offered_rate_per_s']:.0f}/s, {plays['events_failed']} failed)"
    )
    table.add_row("events sent", sent)
    table.add_row(
        "events committed",
        f"{plays['committed']} ({plays['committed_rate_per_s'] or 0:.0f}/s sustained)",
    )
    latencies = (
        ("latency_received_to_committed_s", "receipt → committed"),
        ("latency_received_to_stored_at_s", "receipt → stored_at (tx start)"),
    )
    for key, label in latencies:
        lat = plays[key]
        table.add_row(
            label, f"p50 {_ms(lat['p50'])} · p99 {_ms(lat['p99'])} · max {_ms(lat['max'])}"
        )
    ack = plays["publish_to_ack_s"]
    table.add_row(
        "publish → ack (publishers)",
        f"p50 {_ms(ack['p50'])} · p99 {_ms(ack['p99'])}"
        f" · max {_ms(ack['max'])} ({plays['batches_acked']} acked, "
        f"{plays['batches_unacked']} not)",
    )
    table.add_row(
        "acks say",
        f"{plays['acked_accepted']} accepted · {plays['acked_duplicate']}"
        f" duplicate · {plays['acked_rejected']} rejected",
    )
    table.add_row("duplicate rows", str(plays["duplicate_rows"]))
    table.add_row(
        "hub (1 process)",
        f"{plays['hub_cpu_percent_of_one_core']:.0f} % of a core · "
        f"peak RSS {plays['hub_peak_rss_mib']:.0f} MiB",
    )
    m = report["machine"]
    table.caption = (
        f"{m['cpus']} CPUs · {m['memory_gib']} GiB · {m['cpu_model']} · Python {m['python']}"
    )
    console.print(table)
