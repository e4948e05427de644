"""The service's Prometheus metrics, in a registry of the app's own: request latency (observed
by the request middleware) and what the service's parts count, read at scrape time."""

import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from quantdesk.services.platform import Platform

log = logging.getLogger("quantdesk.api")

SIGNAL_STATS_SECONDS: Final = 15.0
_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's own registry (never the process-global default: two apps in one process,
    as in tests, keep separate counts)."""

    def __init__(self, platform: Platform) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "quantdesk_http_request_duration_seconds",
            "Request latency by route template, method and status",
            ("route", "method", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ServiceCollector(platform))


class _ServiceCollector(Collector):
    """Counts read from the service's parts at scrape time: nothing to keep in step."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._signal_counts: tuple[float, Counter[tuple[str, str]]] | None = None

    def describe(self) -> list[Metric]:
        return []  # read at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        for read in (self._jobs, self._signals, self._risk, self._websocket):
            try:
                yield from read()
            except Exception:  # a broken part costs its metrics, never the scrape
                log.warning("metrics: %s failed", read.__name__, exc_info=True)

    def _jobs(self) -> Iterator[Metric]:
        stats = self._platform.service.jobs.stats()
        jobs = GaugeMetricFamily(
            "quantdesk_jobs", "Jobs by kind and state", labels=("kind", "state")
        )
        for (kind, state), count in sorted(stats.counts.items()):
            jobs.add_metric((kind.value, state.value), float(count))
        yield jobs
        durations = SummaryMetricFamily(
            "quantdesk_job_duration_seconds",
            "Wall time of finished jobs by kind",
            labels=("kind",),
        )
        for kind, finished in sorted(stats.finished.items()):
            seconds = stats.finished_seconds.get(kind, 0.0)
            durations.add_metric((kind.value,), count_value=finished, sum_value=seconds)
        yield durations

    def _signals(self) -> Iterator[Metric]:
        """By outcome and type, summed over sources; the stats read the signal stores, so a
        scrape reuses a reading up to ``SIGNAL_STATS_SECONDS`` old."""
        now = time.monotonic()
        if self._signal_counts is None or now - self._signal_counts[0] > SIGNAL_STATS_SECONDS:
            counts: Counter[tuple[str, str]] = Counter()
            for row in self._platform.signals.stats():
                counts["accepted", row.signal_type] += row.accepted
                counts["rejected", row.signal_type] += row.rejected_total
                counts["delivered", row.signal_type] += row.delivered
                counts["dead_lettered", row.signal_type] += row.dead_lettered
            self._signal_counts = (now, counts)
        family = CounterMetricFamily(
            "quantdesk_signals",
            "Signals by outcome (accepted, rejected, delivered, dead_lettered) and type",
            labels=("outcome", "signal_type"),
        )
        for labels, count in sorted(self._signal_counts[1].items()):
            family.add_metric(labels, count)
        yield family

    def _risk(self) -> Iterator[Metric]:
        """Kill switches thrown now, by scope. (Gate denials live inside each run's records:
        no desk-wide count exists that a scrape could read cheaply.)"""
        thrown = GaugeMetricFamily(
            "quantdesk_risk_kill_switches", "Kill switches thrown now by scope", labels=("scope",)
        )
        scopes: dict[str, int] = {}
        for switch in self._platform.risk.status():
            scopes[switch.scope.value] = scopes.get(switch.scope.value, 0) + 1
        for scope, count in sorted(scopes.items()):
            thrown.add_metric((scope,), float(count))
        yield thrown

    def _websocket(self) -> Iterator[Metric]:
        events = self._platform.service.events
        gauge = GaugeMetricFamily("quantdesk_websocket_clients", "Connected WebSocket clients")
        gauge.add_metric((), float(events.client_count()))
        yield gauge
        lost = CounterMetricFamily(
            "quantdesk_events_channel_dropped",
            "Events the channel between server processes could not carry (overload)",
        )
        lost.add_metric((), float(events.channel_dropped()))
        yield lost
