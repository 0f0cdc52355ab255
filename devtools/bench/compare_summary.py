"""The human summary of ``fleethub bench --compare``: every leg, then the ratios."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _ms(value: object) -> str:
    return f"{float(str(value)) * 1000:.0f} ms" if value is not None else "—"


def _us(value: object) -> str:
    return f"{float(str(value)):.0f} µs" if value is not None else "—"


def _rate(value: object) -> str:
    return f"{float(str(value)):,.0f}/s" if value is not None else "—"


def print_compare_summary(report: dict[str, Any], console: Console) -> None:
    table = Table(
        "run",
        "leg",
        "load (1 min)",
        "offered",
        "sustained",
        "p50",
        "p99",
        "consumer CPU",
        "broker CPU",
        "store CPU",
        title=f"fleethub bench --compare {report['started_at']}",
    )
    for leg in report["legs"]:
        cpu = leg["cpu_percent_of_one_core"]
        drained = "" if leg["drained_in_time"] else " (behind)"
        table.add_row(
            str(leg["run"]),
            leg["leg"],
            f"{leg['load_before'][0]:.2f}",
            _rate(leg["offered_rate_per_s"]),
            _rate(leg["sustained_rate_per_s"]) + drained,
            _ms(leg["latency_s"]["p50"]),
            _ms(leg["latency_s"]["p99"]),
            f"{cpu['consumer']:.0f} %",
            f"{cpu['broker']:.0f} %",
            f"{cpu['store']:.0f} %",
        )
    m = report["machine"]
    table.caption = (
        f"{m['cpus']} CPUs · {m['memory_gib']} GiB · {m['cpu_model']} · Python {m['python']}"
        f" · {report['simulators']['processes']} simulator processes"
    )
    console.print(table)
    ratios = report.get("ratios")
    if ratios:
        med = ratios["medians"]
        summary = Table(
            "contender", "sustained (median)", "p50", "p99", "CPU per message", title="medians"
        )
        for name in ("limit", "naive", "fleethub"):
            summary.add_row(
                name,
                _rate(med[name]["sustained_rate_per_s"]),
                _ms(med[name]["p50_s"]),
                _ms(med[name]["p99_s"]),
                _us(med[name].get("cpu_us_per_message")),
            )
        console.print(summary)
        console.print(
            f"fleethub / limit = {ratios['fleethub_to_limit']}"
            f" · fleethub / naive = {ratios['fleethub_to_naive']}"
        )
    fanout = report.get("fanout")
    if fanout:
        limit = fanout.get("limit")
        limits = (("limit", "no hub"), ("limit_under_load", "no hub, under the heartbeat load"))
        for name, label in limits:
            part = fanout.get(name)
            if not part:
                continue
            lat = part["latency_s"]
            console.print(
                f"fan-out limit, one publisher, {label} (load {part['load_before'][0]:.2f}):"
                f" {part['received']} of {part['targeted']} tablets, p50 {_ms(lat['p50'])},"
                f" p99 {_ms(lat['p99'])}, max {_ms(lat['max'])}; all published after"
                f" {part['all_published_after_s']:.2f} s; broker"
                f" {part['broker_cpu_percent_of_one_core']:.0f} % of a core"
            )
        for name, label in (("idle", "hub idle"), ("under_load", "under the heartbeat load")):
            part = fanout[name]
            lat = part["latency_s"]
            ratio = ""
            same = fanout.get("limit" if name == "idle" else "limit_under_load") or limit
            if same and same["latency_s"]["p99"] and lat["p99"]:
                ratio = f"; p99 {lat['p99'] / same['latency_s']['p99']:.2f} × the limit's"
            console.print(
                f"fan-out, {label} (load {part['load_before'][0]:.2f}): {part['received']} of"
                f" {part['targeted']} tablets, p50 {_ms(lat['p50'])}, p99 {_ms(lat['p99'])},"
                f" max {_ms(lat['max'])}; hub {part['hub_cpu_percent_of_one_core']:.0f} %"
                f" of a core{ratio}"
            )
    over = report.get("overload")
    if over:
        lat = over["latency_s"] or {}
        console.print(
            f"overload: {over['offered_rate_per_s']:.0f}/s for {over['overload_s']:.0f} s then"
            f" {over['then_offered_rate_per_s']:.0f}/s (load {over['load_before'][0]:.2f}):"
            f" {over['committed']} of {over['sent']} committed, {over['duplicates']} twice;"
            f" backlog peak {over['backlog_peak']}, latency p99 {_ms(lat.get('p99'))}"
            f" max {_ms(lat.get('max'))}; within 1 s again {over['recovered_after_s']} s after"
            f" the overload; hub {over['hub_cpu_percent_of_one_core']:.0f} % of a core,"
            f" peak RSS {over['hub_peak_rss_mib']:.0f} MiB"
        )
