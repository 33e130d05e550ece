"""Importing search exports through the browser: problems listed with file and line, a
refused file named with the reason, a file too large refused with 413, nothing half done."""

from __future__ import annotations

import re

import pytest

from metareview.web.routes import project as project_routes
from tests.web.conftest import EXAMPLE, World

SEARCH = EXAMPLE / "search"


def _upload(world: World, files: list[tuple[str, bytes]], **form: str):
    olga = world.client("olga")
    olga.post("/projects", data={"name": "fresh", "csrf_token": world.csrf(olga)})
    return olga.post(
        "/p/fresh/import",
        data={**form, "csrf_token": world.csrf(olga)},
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
    )


def test_upload_imports_and_lists_problems_with_file_and_line(sqlite_world: World) -> None:
    w = sqlite_world
    embase = (SEARCH / "embase.ris").read_bytes()
    response = _upload(
        w, [("embase.ris", embase), ("pubmed.nbib", (SEARCH / "pubmed.nbib").read_bytes())]
    )
    assert response.status_code == 200
    report = w.store.records("fresh").groupby("source").size().to_dict()
    assert report == {"embase.ris": 19, "pubmed.nbib": 20}  # search/README.md
    # the malformed record of embase.ris is reported with its line, under the file's name
    lines = {int(n) for n in re.findall(r"embase\.ris:(\d+)</td>", response.text)}
    assert lines and all(n > 0 for n in lines)
    assert "/tmp" not in response.text
    again = _upload(w, [("embase.ris", embase)])
    assert "Already imported" in again.text


def test_unknown_format_is_refused_with_its_name(sqlite_world: World) -> None:
    response = _upload(
        sqlite_world,
        [
            ("notes.txt", b"just some words\nand more\n"),
            ("pubmed.nbib", (SEARCH / "pubmed.nbib").read_bytes()),
        ],
    )
    assert response.status_code == 422
    assert "notes.txt" in response.text
    # the good file of the same upload is imported; the refused one added nothing
    assert sqlite_world.store.records("fresh")["source"].unique().tolist() == ["pubmed.nbib"]


def test_too_large_upload_is_refused(sqlite_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_routes, "MAX_UPLOAD_BYTES", 1000)
    response = _upload(sqlite_world, [("pubmed.nbib", (SEARCH / "pubmed.nbib").read_bytes())])
    assert response.status_code == 413 and "pubmed.nbib: larger than" in response.text
    assert sqlite_world.store.records("fresh").empty
