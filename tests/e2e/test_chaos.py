"""The short chaos run (bench/chaos.py has the long one): pool processes SIGKILLed, the whole worker SIGKILLed,
the broker restarted empty, while jobs run; every job succeeds once, with the undisturbed run's text."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import Chaos


def test_jobs_survive_killed_workers_and_a_wiped_broker(tmp_path: Path) -> None:
    chaos = Chaos(tmp_path)
    try:
        result = chaos.run(jobs=15, rounds=4, pause_s=1.0, timeout_s=180)
    finally:
        chaos.stop()
    assert result["succeeded"] == 15, result
    assert result["wrong_text"] == [] and result["finished_twice"] == [], result
    assert result["disturbances"].get("kill_worker") and result["disturbances"].get("restart_broker"), result
