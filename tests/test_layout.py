"""The shape docs/architecture.md promises: modules small enough to read, every room a package with tests."""

from __future__ import annotations

import subprocess

from tests.support import REPO

MAX_LINES = 400
# Each room and the test folder that mirrors it (the API's tests are tests/api and, for keys and tenancy,
# tests/access; tests/e2e and tests/clients run the whole service).
ROOMS = {
    "ocr_api": "api",
    "workers": "workers",
    "workers/ocr": "workers/ocr",
    "storage/objects": "storage/objects",
    "storage/records": "storage/records",
    "webhooks": "webhooks",
    "maintenance": "maintenance",
    "client/ocr_client": "client",
}


def tracked_python_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return [name for name in out.stdout.split() if "/migrations/versions/" not in name]


def test_no_module_is_over_400_lines() -> None:
    long = {}
    for name in tracked_python_files():
        lines = (REPO / name).read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            long[name] = lines
    assert long == {}, f"split these modules (at most {MAX_LINES} lines, migrations aside): {long}"


def test_every_room_has_its_tests_and_its_map_entry() -> None:
    architecture = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for room, tests in ROOMS.items():
        assert (REPO / room / "__init__.py").exists(), room
        assert f"`{room}/`" in architecture, f"docs/architecture.md does not describe {room}/"
        assert (REPO / "tests" / tests / "__init__.py").exists(), f"tests/{tests}/ mirrors {room}/"
