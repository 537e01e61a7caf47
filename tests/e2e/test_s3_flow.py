"""The job flow with OCR_STORAGE=s3: inputs and results in the bucket, presigned downloads, deletion."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import BUCKET, Stack, api_process, corpus_file


def keys_under(s3_client: Any, prefix: str) -> list[str]:
    listed = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_results_live_in_the_bucket_and_go_with_the_job(s3_stack: Stack, s3_client: Any) -> None:
    job = s3_stack.run(corpus_file("tess_phototest.tif"), formats="txt,json")
    assert job["status"] == "succeeded", job
    prefix = f"{s3_stack.env['OCR_S3_PREFIX']}jobs/{job['id']}/"
    keys = keys_under(s3_client, prefix)
    assert {prefix + "input", prefix + "result.txt", prefix + "result.json"} <= set(keys)
    head = s3_client.head_object(Bucket=BUCKET, Key=prefix + "result.txt")
    assert len(head["Metadata"]["sha256"]) == 64
    assert not (s3_stack.data_dir / "files" / "jobs").exists(), "nothing on local disk with OCR_STORAGE=s3"

    assert s3_stack.client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert keys_under(s3_client, prefix) == []


def test_presigned_downloads_redirect_to_the_store(s3_stack: Stack) -> None:
    job = s3_stack.run(corpus_file("tess_HelloGoogle.tif"))
    env = {**s3_stack.env, "OCR_S3_PRESIGNED_DOWNLOADS": "true", "OCR_S3_PRESIGN_EXPIRY_S": "120"}
    with api_process(env) as client:
        redirect = client.get(f"/v1/jobs/{job['id']}/result.txt")
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert location.startswith(s3_stack.env["OCR_S3_ENDPOINT_URL"])
        assert "X-Amz-Expires=120" in location and "X-Amz-Signature=" in location
        assert httpx.get(location).text == s3_stack.text(job["id"])
