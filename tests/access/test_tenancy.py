"""Every job belongs to the key that made it: another key gets exactly what a missing job gets (404) on every job
endpoint, and does not see it listed; an admin key sees all. Through serve and through split API + worker."""

from __future__ import annotations

import uuid

import httpx

from tests.access.conftest import Access, upload
from tests.support import corpus_file

JOB_READS = ("", "/result.txt", "/result.pdf", "/text", "/events")


def _listed(client: httpx.Client) -> set[str]:
    ids: set[str] = set()
    cursor = None
    while True:
        page = client.get("/v1/jobs", params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        ids |= {job["id"] for job in page.json()["jobs"]}
        if not (cursor := page.json()["next_cursor"]):
            return ids


def _as_missing(client: httpx.Client, method: str, path: str, job_id: str) -> None:
    """The answer for another key's job is the answer for a job that does not exist, but for the id."""
    other = str(uuid.uuid4())
    theirs = client.request(method, path.format(job_id))
    missing = client.request(method, path.format(other))
    assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
    assert theirs.json() == {"error": {"code": "job_not_found", "message": f"no job with id '{job_id}'"}}
    assert missing.text.replace(other, job_id) == theirs.text


def test_another_key_can_neither_read_list_cancel_nor_delete_a_job(any_access: Access) -> None:
    alice, bob, root = any_access["alice"], any_access["bob"], any_access["root"]
    made = upload(alice, corpus_file("pyt_test.png"), formats="txt,pdf")
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]
    assert any_access.wait(alice, job_id)["status"] == "succeeded"

    for suffix in JOB_READS:
        _as_missing(bob, "GET", "/v1/jobs/{}" + suffix, job_id)
    _as_missing(bob, "POST", "/v1/jobs/{}/cancel", job_id)
    _as_missing(bob, "DELETE", "/v1/jobs/{}", job_id)
    assert job_id not in _listed(bob)

    # The owner and the admin still have all of it: bob's cancel and delete did nothing.
    for client in (alice, root):
        for suffix in JOB_READS:
            response = client.get(f"/v1/jobs/{job_id}{suffix}")
            assert response.status_code == 200, (suffix, response.text)
        assert job_id in _listed(client)
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] == "succeeded"

    # bob's own job is his alone, and alice's list does not show it
    own = upload(bob, corpus_file("pyt_test.png"))
    assert own.status_code == 202
    assert own.json()["id"] in _listed(bob) and own.json()["id"] not in _listed(alice)
    assert own.json()["id"] in _listed(root)

    assert alice.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert alice.get(f"/v1/jobs/{job_id}").status_code == 404


def test_another_key_cannot_cancel_a_running_job_but_the_admin_can(any_access: Access) -> None:
    alice, bob, root = any_access["alice"], any_access["bob"], any_access["root"]
    made = upload(alice, corpus_file("pyt_test.png"))
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]
    _as_missing(bob, "POST", "/v1/jobs/{}/cancel", job_id)
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] != "cancelled"
    cancelled = root.post(f"/v1/jobs/{job_id}/cancel")
    # The admin acts on any job: it cancels it, or finds it finished already
    assert cancelled.status_code in (200, 409), cancelled.text
    assert root.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert alice.get(f"/v1/jobs/{job_id}").status_code == 404
