"""The job steps' options: a job's switches completed from the upload options' defaults for the pipeline."""

from __future__ import annotations

from ocr_client.options import JobOptions

from workers.steps import job_switches

OFF = {"orient": False, "deskew": False, "retry": False}


def test_a_jobs_switches_are_its_options_over_the_upload_defaults() -> None:
    assert job_switches(None) == job_switches({}) == JobOptions.switch_defaults()
    parsed = job_switches({"orient": False, "deskew": "false", "retry": "0", "other": True})
    assert parsed == {**JobOptions.switch_defaults(), **OFF}
    assert job_switches({"deskew": "maybe"})["deskew"] is True
    assert job_switches({"skip_text": "on"})["skip_text"] is True
