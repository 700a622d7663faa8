"""Counters and histograms kept as plain numbers, turned into Prometheus families at scrape.

The control plane updates its metrics for every event it writes, from one thread (its event
loop), which is also where `/metrics` is scraped: a dict update is all an increment needs.
`prometheus_client`'s own metric objects take a lock per increment and validate labels per call,
which cost several times more on that hot path (see benchmarks/observe.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

Labels = tuple[str, ...]


class Tally:
    """A counter family: a total per label values."""

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        self.name, self.doc, self.labels = name, doc, list(labels)
        self.totals: dict[Labels, float] = {}

    def add(self, labels: Labels = (), amount: float = 1.0) -> None:
        """Count `amount` for these label values."""
        self.totals[labels] = self.totals.get(labels, 0.0) + amount

    def family(self) -> CounterMetricFamily:
        """The family as Prometheus exposes it (`<name>_total`)."""
        found = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, total in self.totals.items():
            found.add_metric(list(labels), total)
        return found


class TallyHistogram:
    """A histogram family: bucket counts and a sum per label values."""

    def __init__(
        self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name, self.doc, self.labels = name, doc, list(labels)
        self.bounds = list(buckets)
        self.series: dict[Labels, tuple[list[int], list[float]]] = {}  # (counts, [sum])

    def observe(self, labels: Labels, value: float) -> None:
        """Count one observation of `value`."""
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = ([0] * (len(self.bounds) + 1), [0.0])
        series[0][bisect.bisect_left(self.bounds, value)] += 1
        series[1][0] += value

    def family(self) -> HistogramMetricFamily:
        """The family as Prometheus exposes it (cumulative buckets, `_count`, `_sum`)."""
        found = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, (counts, total) in self.series.items():
            cumulative, buckets = 0, []
            for bound, count in zip([*self.bounds, float("inf")], counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            found.add_metric(list(labels), buckets, total[0])
        return found


class TallyCollector(Collector):
    """Exposes tallies through a registry."""

    def __init__(self, tallies: Sequence[Tally | TallyHistogram]) -> None:
        self.tallies = list(tallies)

    def collect(self) -> Iterator[Any]:
        """Every tally's family, as it is now."""
        for tally in self.tallies:
            yield tally.family()
