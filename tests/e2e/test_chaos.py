"""The short chaos run (bench/chaos.py has the long one): pool processes SIGKILLed, the whole worker SIGKILLed,
the broker restarted empty, the API SIGKILLed mid-upload, while jobs run; every job succeeds once, with the
undisturbed run's text, and so does every upload the killed API had recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import Chaos, schedule_by_counts


def test_jobs_survive_killed_workers_a_wiped_broker_and_a_killed_api(tmp_path: Path) -> None:
    chaos = Chaos(tmp_path)
    try:
        # keep_busy: every disturbance lands on work in progress, however fast the 15 jobs finish
        result = chaos.run(jobs=15, rounds=5, pause_s=1.0, timeout_s=180, keep_busy=6)
    finally:
        chaos.stop()
    assert result["not_succeeded"] == {} and result["succeeded"] == result["jobs"] >= 15, result
    assert result["wrong_text"] == [] and result["finished_twice"] == [] and result["accepted_twice"] == [], result
    assert result["uploads_accepted"] == result["uploads_during_api_kills"] > 0, result
    done = result["disturbances"]
    assert done.get("kill_worker") and done.get("restart_broker") and done.get("kill_api"), result


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_chaos_long(tmp_path: Path) -> None:
    """Issue #11's long run (docs/reliability.md has its figures): 100 pool kills, 10 broker restarts (half of
    them wiped), 5 API kills mid-upload and 5 whole-worker kills, shuffled, 1.5 s apart, with at least 10 jobs
    unfinished throughout. Also `python -m bench.chaos --pool-kills 100 ...`."""
    chaos = Chaos(tmp_path)
    try:
        result = chaos.run(
            jobs=30, rounds=0, pause_s=1.5, timeout_s=900, schedule=schedule_by_counts(100, 5, 10, 5, 11), keep_busy=10
        )
    finally:
        chaos.stop()
    assert result["not_succeeded"] == {} and result["succeeded"] == result["jobs"], result
    assert result["wrong_text"] == [] and result["finished_twice"] == [] and result["accepted_twice"] == [], result
    assert result["uploads_accepted"] == result["uploads_during_api_kills"], result
    assert result["disturbances"]["kill_pool"] == 100 and result["disturbances"]["kill_api"] == 5, result
