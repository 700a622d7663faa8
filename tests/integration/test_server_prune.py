"""POST /api/v2/prune: counts on a dry run, removes for real, refuses a bad age naming it."""

from __future__ import annotations

import time
from pathlib import Path

from noetl.config import Settings
from support.live_server import LiveServer, api_client

HELLO = (Path(__file__).parents[2] / "examples" / "hello.yaml").read_text()


def test_prune_over_the_api(tmp_path: Path):
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings, local_workers=1) as server, api_client(server, None) as api:
        execution_id = api.post("/executions", json={"playbook": HELLO}).json()["execution_id"]
        ended = api.get(f"/executions/{execution_id}", params={"wait": 15}).json()
        assert ended["status"] == "done"
        time.sleep(1.1)
        for age in ("soon", "99999999999d", "inf"):  # the last two overflowed: a 500
            bad = api.post("/prune", json={"older_than": age})
            assert bad.status_code == 400 and "older_than" in bad.json()["error"]["message"]
        unknown = api.post("/prune", json={"older_than": "1s", "status": "old"})
        assert (
            unknown.status_code == 422 and unknown.json()["error"]["fields"][0]["field"] == "status"
        )
        dry = api.post("/prune", json={"older_than": "1s", "dry_run": True}).json()
        assert dry["dry_run"] is True and dry["executions"] == 1 and dry["events"] > 0
        assert api.get(f"/executions/{execution_id}").status_code == 200
        kept = api.post("/prune", json={"older_than": "1h"}).json()
        assert kept["executions"] == 0
        real = api.post("/prune", json={"older_than": "1s"}).json()
        assert (real["dry_run"], real["executions"], real["events"]) == (False, 1, dry["events"])
        assert api.get(f"/executions/{execution_id}").status_code == 404


def test_a_server_with_prune_after_prunes_by_itself(tmp_path: Path):
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings, local_workers=1) as server, api_client(server, None) as api:
        execution_id = api.post("/executions", json={"playbook": HELLO}).json()["execution_id"]
        assert (
            api.get(f"/executions/{execution_id}", params={"wait": 15}).json()["status"] == "done"
        )
    time.sleep(1.1)
    pruning = Settings(home=tmp_path, db=tmp_path / "noetl.db", prune_after="1s")
    with LiveServer(pruning) as server, api_client(server, None) as api:
        deadline = time.monotonic() + 15
        while api.get(f"/executions/{execution_id}").status_code != 404:
            assert time.monotonic() < deadline, "the server did not prune"
            time.sleep(0.1)


def test_a_schedule_interval_past_any_date_is_400_and_not_stored(tmp_path: Path):
    settings = Settings(home=tmp_path, db=tmp_path / "noetl.db")
    with LiveServer(settings) as server, api_client(server, None) as api:
        assert api.post("/catalog", json={"content": HELLO}).status_code == 201
        body = {"name": "never", "path": "examples/hello", "every": 1e300}
        refused = api.post("/schedules", json=body)
        assert refused.status_code == 400 and "every" in refused.json()["error"]["message"]
        listed = api.get("/schedules")  # a stored one made every listing a 500
        assert listed.status_code == 200 and listed.json()["schedules"] == []
