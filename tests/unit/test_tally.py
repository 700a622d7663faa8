"""The plain-number counters and histograms the control plane's metrics are kept in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from noetl.observe.tally import Tally, TallyCollector, TallyHistogram


def scrape(*tallies: Tally | TallyHistogram) -> dict[str, dict[tuple, float]]:
    registry = CollectorRegistry()
    registry.register(TallyCollector(tallies))
    text = generate_latest(registry).decode()
    return {
        family.name: {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def test_tallies_are_exposed_as_prometheus_counters_and_cumulative_histograms():
    issued = Tally("noetl_x_issued", "Issued.", ["pool"])
    issued.add(("a",))
    issued.add(("a",), 2)
    issued.add(("b",))
    plain = Tally("noetl_x_plain", "No labels.")
    plain.add()
    took = TallyHistogram("noetl_x_seconds", "Took.", ["stage"], (0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 3.0):
        took.observe(("s",), value)
    found = scrape(issued, plain, took)
    assert found["noetl_x_issued"] == {
        ("noetl_x_issued_total", (("pool", "a"),)): 3.0,
        ("noetl_x_issued_total", (("pool", "b"),)): 1.0,
    }
    assert found["noetl_x_plain"] == {("noetl_x_plain_total", ()): 1.0}
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in found["noetl_x_seconds"].items()
        if name == "noetl_x_seconds_bucket"
    }
    assert buckets == {"0.1": 2.0, "1.0": 3.0, "+Inf": 4.0}  # le is inclusive
    assert found["noetl_x_seconds"][("noetl_x_seconds_count", (("stage", "s"),))] == 4.0
    assert found["noetl_x_seconds"][("noetl_x_seconds_sum", (("stage", "s"),))] == 3.65
