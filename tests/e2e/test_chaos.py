"""The short chaos run (bench/chaos.py has the long one): pool processes SIGKILLed, the whole worker SIGKILLed,
the broker restarted empty, the API SIGKILLed mid-upload, while jobs run; every job succeeds once, with the
undisturbed run's text, and so does every upload the killed API had recorded."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import Chaos


def test_jobs_survive_killed_workers_a_wiped_broker_and_a_killed_api(tmp_path: Path) -> None:
    chaos = Chaos(tmp_path)
    try:
        result = chaos.run(jobs=15, rounds=5, pause_s=1.0, timeout_s=180)
    finally:
        chaos.stop()
    assert result["not_succeeded"] == {} and result["succeeded"] == result["jobs"] >= 15, result
    assert result["wrong_text"] == [] and result["finished_twice"] == [] and result["accepted_twice"] == [], result
    assert result["uploads_accepted"] == result["uploads_during_api_kills"] > 0, result
    done = result["disturbances"]
    assert done.get("kill_worker") and done.get("restart_broker") and done.get("kill_api"), result
