"""``fleethub bench``: the benchmarks behind docs/performance.md (registered in cli.main)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from config.durations import parse_duration
from config.settings import Settings

console = Console()


def _settings() -> Settings:
    return Settings()


def bench_command(
    tablets: Annotated[
        int | None, typer.Option(min=1, max=40_000, help="Default 20,000 (--plays: 2,000).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Heartbeats per second, in total"
            " (default 10,000); with --plays, play events (default 5,000).",
        ),
    ] = None,
    duration: Annotated[str, typer.Option(help="How long to publish.")] = "30s",
    hub_shards: Annotated[int, typer.Option(min=1, max=8, help="Hub processes.")] = 1,
    brokers: Annotated[int, typer.Option(min=1, max=8, help="1, or one per hub shard.")] = 1,
    resident_actors: Annotated[int, typer.Option(min=0, max=200_000)] = 100_000,
    qos: Annotated[int, typer.Option(min=0, max=1, help="Heartbeat QoS.")] = 1,
    out: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("bench-results"),
    panel: Annotated[
        bool,
        typer.Option("--panel", help="Measure the panel instead: grid render and SSE latency."),
    ] = False,
    plays: Annotated[
        bool,
        typer.Option(
            "--plays",
            help="Measure proof-of-play ingestion instead: batches of 10–50 events,"
            " receipt → committed and publish → ack.",
        ),
    ] = False,
    statements: Annotated[
        bool,
        typer.Option(
            "--statements",
            help="Measure a month's earnings statements instead: --tablets tablets × 31 days"
            " (default 20,000) in a fresh store.",
        ),
    ] = False,
    leads: Annotated[
        int | None,
        typer.Option(
            "--leads",
            min=1,
            max=100_000,
            help="Measure leads instead: this many form submits"
            " → the agent's MQTT receipt and panel SSE event (--rate: submits/s, default 20).",
        ),
    ] = None,
    media: Annotated[
        bool,
        typer.Option(
            "--media",
            help="Measure media delivery instead: --tablets (default 500) download one file at"
            " once through the panel, next to curl on python -m http.server; then one upload.",
        ),
    ] = False,
    zones: Annotated[
        int | None,
        typer.Option(
            "--zones",
            min=1,
            max=5_000,
            help="Measure campaign zones instead: the heartbeat phase without campaigns, then"
            " with one running campaign over this many zones (200 in docs/campaigns.md);"
            " entering a zone → the changed manifest.",
        ),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare fleethub with the broker alone (mosquitto_sub) and a naive paho +"
            " psycopg subscriber: legs interleaved, same tablets (default 19,000) and rate.",
        ),
    ] = False,
    actors: Annotated[
        bool,
        typer.Option(
            "--actors",
            help="Measure the actor path's CPU instead: per heartbeat and per tablet of a push,"
            " on --tablets (default 19,000) in one process, no broker, no store (--repeats).",
        ),
    ] = False,
    repeats: Annotated[
        int, typer.Option(min=1, max=9, help="--compare, --actors: runs of each leg.")
    ] = 3,
    overload: Annotated[
        str, typer.Option(help="--compare: the overload leg's length (0s: none).")
    ] = "10s",
    profile: Annotated[
        bool, typer.Option("--profile", help="--compare: py-spy the hub during its legs.")
    ] = False,
    media_mb: Annotated[int, typer.Option(min=1, max=4096, help="--media: file MB.")] = 50,
    upload_mib: Annotated[
        int, typer.Option(min=0, max=4096, help="--media: upload MiB (0: none).")
    ] = 1024,
    alerts: Annotated[
        int | None,
        typer.Option(
            "--alerts",
            min=1,
            max=100_000,
            help="Measure alert channels instead: this many incidents at once → a per-event"
            " and a digest webhook.",
        ),
    ] = None,
) -> None:
    """Measure the hub end to end on loopback; writes a JSON report and prints a summary."""
    if leads:
        _bench_leads(leads, rate or 20.0, out)
        return
    if alerts:
        _bench_alerts(alerts, out)
        return
    if actors:
        _bench_actors(tablets or 19_000, repeats, out)
        return
    if compare:
        _bench_compare(
            tablets or 19_000,
            rate or 10_000,
            parse_duration(duration),
            repeats,
            0.0 if overload.strip() in {"0", "0s"} else parse_duration(overload),
            profile,
            out,
        )
        return
    if statements:
        _bench_statements(tablets or 20_000, out)
        return
    if media:
        _bench_media(tablets or 500, media_mb, upload_mib, out)
        return
    if panel:
        _bench_panel(tablets or 20_000, out)
        return
    if plays:
        _bench_plays(tablets or 2_000, rate or 5_000, parse_duration(duration), out)
        return
    tablets, rate = tablets or 20_000, rate or 10_000
    from devtools.bench.run import BenchConfig, run_bench, write_report
    from devtools.bench.summary import print_summary

    settings = _settings()
    cfg = BenchConfig(
        tablets=tablets,
        rate=rate,
        duration_s=parse_duration(duration),
        hub_shards=hub_shards,
        brokers=brokers,
        resident_actors=resident_actors,
        qos=qos,
        work_dir=settings.var_dir / "bench",
        only_heartbeats=zones is not None,
    )
    if zones is not None:
        from devtools.bench.zones import print_zones_summary, run_zones_bench

        zoned = run_zones_bench(cfg, zones, console)
        path = write_report(zoned, out, sys.stdout)
        print_zones_summary(zoned, console)
        console.print(f"report: {path}")
        return
    report = run_bench(cfg, console)
    path = write_report(report, out, sys.stdout)
    print_summary(report, console)
    console.print(f"report: {path}")


def _bench_compare(
    tablets: int,
    rate: float,
    duration_s: float,
    repeats: int,
    overload_s: float,
    profile: bool,
    out: Path,
) -> None:
    from devtools.bench.compare import CompareConfig, run_compare
    from devtools.bench.compare_summary import print_compare_summary
    from devtools.bench.run import write_report

    cfg = CompareConfig(
        tablets=tablets,
        rate=rate,
        duration_s=duration_s,
        repeats=repeats,
        overload_s=overload_s,
        profile=profile,
        work_dir=_settings().var_dir / "bench",
    )
    report = run_compare(cfg, console)
    path = write_report(report, out, sys.stdout)
    print_compare_summary(report, console)
    console.print(f"report: {path}")


def _bench_panel(tablets: int, out: Path) -> None:
    from devtools.bench.panel import PanelBenchConfig, run_panel_bench
    from devtools.bench.run import machine, write_report
    from devtools.bench.summary import print_panel_summary

    settings = _settings()
    cfg = PanelBenchConfig(
        tablets=tablets, work_dir=settings.var_dir / "bench", database_url=settings.database_url
    )
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "started_at": f"panel-{started}",
        "machine": machine(),
        **run_panel_bench(cfg, console),
    }
    path = write_report(report, out, sys.stdout)
    print_panel_summary(report, console)
    console.print(f"report: {path}")


def _bench_plays(tablets: int, rate: float, duration_s: int, out: Path) -> None:
    from devtools.bench.plays import PlaysBenchConfig, run_plays_bench
    from devtools.bench.run import write_report
    from devtools.bench.summary import print_plays_summary

    settings = _settings()
    cfg = PlaysBenchConfig(
        tablets=tablets,
        rate=rate,
        duration_s=duration_s,
        work_dir=settings.var_dir / "bench",
        database_url=settings.database_url,
    )
    report = run_plays_bench(cfg, console)
    path = write_report(report, out, sys.stdout)
    print_plays_summary(report, console)
    console.print(f"report: {path}")


def _bench_statements(tablets: int, out: Path) -> None:
    from devtools.bench.run import machine, write_report
    from devtools.bench.statements import (
        StatementsBenchConfig,
        print_statements_summary,
        run_statements_bench,
    )

    cfg = StatementsBenchConfig(tablets=tablets, work_dir=_settings().var_dir / "bench")
    report = {"machine": machine(), **run_statements_bench(cfg, console)}
    path = write_report(report, out, sys.stdout)
    print_statements_summary(report, console)
    console.print(f"report: {path}")


def _bench_media(tablets: int, file_mb: int, upload_mib: int, out: Path) -> None:
    from devtools.bench.media import MediaBenchConfig, print_media_summary, run_media_bench
    from devtools.bench.run import machine, write_report

    settings = _settings()
    cfg = MediaBenchConfig(
        tablets=tablets,
        file_mb=file_mb,
        upload_mib=upload_mib,
        work_dir=settings.var_dir / "bench",
        database_url=settings.database_url,
    )
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "started_at": f"media-{started}",
        "machine": machine(),
        **run_media_bench(cfg, console),
    }
    path = write_report(report, out, sys.stdout)
    print_media_summary(report, console)
    console.print(f"report: {path}")


def _bench_leads(leads: int, rate: float, out: Path) -> None:
    from devtools.bench.leads import LeadsBenchConfig, print_leads_summary, run_leads_bench
    from devtools.bench.run import write_report

    cfg = LeadsBenchConfig(leads=leads, rate=rate, work_dir=_settings().var_dir / "bench")
    report = run_leads_bench(cfg, console)
    path = write_report(report, out, sys.stdout)
    print_leads_summary(report, console)
    console.print(f"report: {path}")


def _bench_actors(tablets: int, repeats: int, out: Path) -> None:
    from devtools.bench.actor_cost import actor_cost, print_actor_cost
    from devtools.bench.run import write_report
    from hub.gc_tuning import tune_gc

    tune_gc()  # as the hub's own process does
    with console.status(f"the actor path of {tablets} tablets…"):
        report = asyncio.run(actor_cost(tablets, rounds=3, pushes=2, repeats=repeats))
    path = write_report(report, out, sys.stdout)
    print_actor_cost(report, console)
    console.print(f"report: {path}")


def _bench_alerts(incidents: int, out: Path) -> None:
    from devtools.bench.alerts import AlertsBenchConfig, print_alerts_summary, run_alerts_bench
    from devtools.bench.run import write_report

    cfg = AlertsBenchConfig(incidents=incidents, work_dir=_settings().var_dir / "bench")
    report = run_alerts_bench(cfg, console)
    path = write_report(report, out, sys.stdout)
    print_alerts_summary(report, console)
    console.print(f"report: {path}")
