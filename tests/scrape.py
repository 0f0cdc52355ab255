"""Scraping /metrics over HTTP and reading it as Prometheus does (prometheus-client's parser)."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from broker.processes import free_port
from config.settings import Settings

TOKEN = "scrape-token-of-the-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(port: int, token: str | None = TOKEN) -> tuple[int, Samples]:
    """The status and, when 200, the samples of ``http://127.0.0.1:{port}/metrics``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as response,
    ):
        text = await response.text()
        return response.status, parse(text) if response.status == 200 else {}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def metrics_settings(settings: Settings) -> Settings:
    """The test's settings with the hub's exporter on a free port, behind :data:`TOKEN`."""
    return settings.model_copy(
        update={"hub_metrics_port": free_port(), "metrics_token": SecretStr(TOKEN)}
    )
