"""Re-record the golden histories: `cd tests && python -m golden.record`."""

from __future__ import annotations

from pathlib import Path

from golden.scenarios import HEAD, SCENARIOS
from noetl.dsl.load import load_playbook
from support.engine_sim import Simulation

HERE = Path(__file__).parent


def record() -> None:
    """Run every scenario and write <name>.yaml and <name>.jsonl next to this file."""
    for name, (body, driver) in SCENARIOS.items():
        text = HEAD + body.lstrip("\n")
        sim = Simulation(load_playbook(text)).start()
        driver(sim)
        (HERE / f"{name}.yaml").write_text(text)
        lines = [e.to_json() for e in sim.log]
        (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
        print(f"{name}: {len(lines)} events, {sim.state.status}")


if __name__ == "__main__":
    record()
