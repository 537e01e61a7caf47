"""/v1/batches with keys required, on both ways to run the service (serve: Redis and SQLite; split API and
worker: RabbitMQ and PostgreSQL): several files in one upload, their progress, one streamed results.zip with each
file's results under its own sanitised name and a manifest naming the failed one; another key gets 404; the
limits, cancel and delete as for jobs (on an API with no worker, where jobs stay queued)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx

from bench.scoring import cer
from tests.access.conftest import Access, upload
from tests.support import corpus_file, ground_truth, wait_for


def post_batch(client: httpx.Client, files: list[tuple[str, bytes]], **fields: Any) -> httpx.Response:
    parts = [("file", (name, io.BytesIO(data), "application/octet-stream")) for name, data in files]
    return client.post("/v1/batches", files=parts, data={k: str(v) for k, v in fields.items()})


def wait_finished(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body = client.get(f"/v1/batches/{batch_id}").json()
        return body if body["status"] == "finished" else None

    return dict(wait_for(finished, 120, f"batch {batch_id}", interval=0.2))


def test_a_batch_gives_one_zip_of_every_file_under_its_name(any_access: Access) -> None:
    alice, bob = any_access["alice"], any_access["bob"]
    hello, line = corpus_file("tess_HelloGoogle.tif").read_bytes(), corpus_file("pyt_test.png").read_bytes()
    files = [
        ("scan.tif", hello),
        ("scan.png", line),  # the same stem: "scan (2)" in the archive
        ("..\\..\\etc/\u202eevilname.png", line),  # path parts and bidirectional controls go
        ("damaged.png", line[:300]),  # a whole header, then cut off: its job fails
    ]
    response = post_batch(alice, files, formats="txt,pdf")
    assert response.status_code == 202, response.text
    batch = response.json()
    assert response.headers["location"] == batch["links"]["self"] and batch["files"] == 4
    assert [j["filename"] for j in batch["jobs"]] == ["scan.tif", "scan.png", "evilname.png", "damaged.png"]
    assert all(j["formats"] == ["txt", "pdf"] for j in batch["jobs"])

    for path in (f"/v1/batches/{batch['id']}", f"/v1/batches/{batch['id']}/results.zip"):
        assert bob.get(path).status_code == 404, "another key's batch is answered as a missing one"
    refused = bob.post(f"/v1/batches/{batch['id']}/cancel")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "batch_not_found"
    assert bob.delete(f"/v1/batches/{batch['id']}").status_code == 404

    done = wait_finished(alice, batch["id"])
    assert done["counts"] == {"queued": 0, "running": 0, "succeeded": 3, "failed": 1, "cancelled": 0}, done
    assert alice.head(f"/v1/batches/{batch['id']}/results.zip").status_code == 200
    with alice.stream("GET", f"/v1/batches/{batch['id']}/results.zip") as archive:
        assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
        assert "content-length" not in archive.headers, "streamed as it is written, not built first"
        assert f"batch-{batch['id']}.zip" in archive.headers["content-disposition"]
        data = b"".join(archive.iter_bytes())
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        assert zipped.testzip() is None
        names = sorted(zipped.namelist())
        assert names == sorted(
            ["scan.txt", "scan.pdf", "scan (2).txt", "scan (2).pdf", "evilname.txt", "evilname.pdf", "manifest.json"]
        ), names
        assert cer(ground_truth("tess_HelloGoogle.tif"), zipped.read("scan.txt").decode()) < 0.05
        for name in ("scan (2).txt", "evilname.txt"):
            assert cer(ground_truth("pyt_test.png"), zipped.read(name).decode()) < 0.05
        assert zipped.read("scan.pdf").startswith(b"%PDF-")
        manifest = json.loads(zipped.read("manifest.json"))
    failed = [f for f in manifest["files"] if f["status"] == "failed"]
    assert [f["filename"] for f in failed] == ["damaged.png"] and failed[0]["entries"] == []
    assert failed[0]["error"]["code"] == "unreadable_input" and failed[0]["error"]["message"], failed
    assert manifest["counts"] == done["counts"]

    assert alice.delete(f"/v1/batches/{batch['id']}").status_code == 204
    assert alice.get(f"/v1/batches/{batch['id']}").status_code == 404
    assert all(alice.get(f"/v1/jobs/{j['id']}").status_code == 404 for j in batch["jobs"]), "its jobs went too"


def test_batch_limits_cancel_and_grouping(queued_auth: Access, tmp_path: Path) -> None:
    """No worker: jobs stay queued. All-or-nothing refusals, the in-flight limit per file, cancel, grouping."""
    alice, bob = queued_auth["alice"], queued_auth["bob"]
    scan = corpus_file("tess_HelloGoogle.tif").read_bytes()
    before = alice.get("/v1/jobs", params={"limit": 500}).json()["jobs"]

    bad = post_batch(alice, [("a.tif", scan), ("notes.png", b"not an image at all\n" * 5)])
    assert bad.status_code == 415, bad.text
    error = bad.json()["error"]
    assert error["message"].startswith("file 2 (notes.png): ") and error["details"]["file"] == 2, error
    empty = post_batch(alice, [])
    assert empty.status_code == 422, empty.text
    assert alice.get("/v1/jobs", params={"limit": 500}).json()["jobs"] == before, "a refused batch leaves nothing"

    capped = queued_auth.add_key("capped", "--max-in-flight", "2")
    over = post_batch(capped, [("a.tif", scan), ("b.tif", scan), ("c.tif", scan)])
    assert over.status_code == 429 and over.json()["error"]["details"] == {"limit": "max_in_flight", "value": 2}
    assert "these 3 files" in over.json()["error"]["message"]
    assert post_batch(capped, [("a.tif", scan), ("b.tif", scan)]).status_code == 202
    # Each file beyond the request counts toward the key's requests per minute, as its own upload would.
    metered = queued_auth.add_key("metered", "--rate-per-minute", "3")
    rated = post_batch(metered, [(f"{n}.tif", scan) for n in "abcd"])
    assert rated.status_code == 429 and rated.json()["error"]["details"]["limit"] == "rate_per_minute", rated.text
    assert int(rated.headers["retry-after"]) >= 1

    batch = post_batch(alice, [("a.tif", scan), ("b.tif", scan)]).json()
    assert batch["status"] == "queued" and batch["counts"]["queued"] == 2
    early = alice.get(f"/v1/batches/{batch['id']}/results.zip")
    assert early.status_code == 409 and early.json()["error"]["code"] == "batch_not_finished"
    cancelled = alice.post(f"/v1/batches/{batch['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["counts"]["cancelled"] == 2, cancelled.text
    again = alice.post(f"/v1/batches/{batch['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "batch_finished"
    with zipfile.ZipFile(io.BytesIO(alice.get(f"/v1/batches/{batch['id']}/results.zip").content)) as zipped:
        assert zipped.namelist() == ["manifest.json"]
        assert {f["error"]["code"] for f in json.loads(zipped.read("manifest.json"))["files"]} == {"cancelled"}

    # The form's way: files uploaded one by one, then grouped into a batch.
    ids = [upload(alice, corpus_file("tess_HelloGoogle.tif")).json()["id"] for _ in range(2)]
    grouped = alice.post("/v1/batches/from-jobs", json={"jobs": ids})
    assert grouped.status_code == 201 and [j["id"] for j in grouped.json()["jobs"]] == ids, grouped.text
    twice = alice.post("/v1/batches/from-jobs", json={"jobs": ids[:1]})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "job_in_batch"
    theirs = bob.post("/v1/batches/from-jobs", json={"jobs": ids})
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "job_not_found"
