"""The owner's downloads (backup archive, PRISMA figure and CSV, records/decisions/extraction
CSV, RIS with decisions) and the records' full-text PDFs, at the HTTP level: who may, what
comes back, what is refused; the browser's backup restores into a fresh PostgreSQL store and
exports again equal, apart from the restore's own audit entry."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.backup import dumps
from metareview.web.routes import files as files_routes
from tests.web.conftest import PROJECT, World, example_ids, example_rows

P = f"/p/{PROJECT}"
CALLERS = {"anonymous": None, "viewer": "vera", "other": "otto", "reviewer": "ana", "owner": "olga"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
OWNER_ONLY = (303, 403, 404, 403, 200)


def _statuses(world: World, method: str, path: str, **kwargs) -> tuple[int, ...]:
    out = []
    for user in CALLERS.values():
        client = world.client(user)
        if method == "POST" and user is not None:
            kwargs = {**kwargs, "data": {"csrf_token": world.csrf(client)}}
        out.append(client.request(method, path, **kwargs).status_code)
    return tuple(out)


def _screen_example(store: Store) -> None:
    """The example's whole dual screening and its resolutions, through the store."""
    ids = example_ids(store)
    resolutions = example_rows("resolutions.csv")
    for stage in ("title_abstract", "full_text"):
        for row in (r for r in example_rows("decisions.csv") if r["stage"] == stage):
            store.decide(
                PROJECT, ids[row["record"]], row["reviewer"], row["decision"], stage, row["reason"]
            )
        for row in (r for r in resolutions if r["stage"] == stage):
            store.resolve(
                PROJECT,
                ids[row["record"]],
                row["decision"],
                by=row["by"],
                reason=row["reason"],
                stage=stage,
            )


def _included(store: Store) -> str:
    """A record Ana and Ben both include at title/abstract."""
    rid = store.screening_status(PROJECT)["record_id"].iloc[0]
    for name in ("Ana", "Ben"):
        store.decide(PROJECT, rid, name, "include")
    return rid


@pytest.mark.parametrize(
    "path",
    [
        "exports",
        "exports/backup.zip",
        "exports/records.csv",
        "exports/decisions.csv",
        "exports/extraction.csv",
        "exports/records.ris",
    ],
)
def test_exports_are_for_owners_only(sqlite_world: World, path: str) -> None:
    assert _statuses(sqlite_world, "GET", f"{P}/{path}") == OWNER_ONLY


def test_prisma_downloads_wait_for_every_outcome(sqlite_world: World) -> None:
    w = sqlite_world
    for path in ("prisma/prisma2020.csv", "prisma/flow.svg"):
        assert _statuses(w, "GET", f"{P}/exports/{path}") == (303, 403, 404, 403, 409)
    assert "once every record has its outcome" in w.client("olga").get(f"{P}/exports").text
    _screen_example(w.store)
    olga = w.client("olga")
    csv_answer = olga.get(f"{P}/exports/prisma/prisma2020.csv")
    library = w.store.prisma_csv(PROJECT, Path(w.store.engine.url.database).with_suffix(".csv"))
    assert csv_answer.status_code == 200 and csv_answer.content == library.read_bytes()
    assert "attachment" in csv_answer.headers["content-disposition"]
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF-"}
    for suffix, start in magic.items():
        figure = olga.get(f"{P}/exports/prisma/flow.{suffix}")
        assert figure.status_code == 200 and figure.content.startswith(start), suffix
    assert olga.get(f"{P}/exports/prisma/flow.exe").status_code == 404
    assert olga.get(f"{P}/exports/project.json").status_code == 404  # only the listed views
    ris = olga.get(f"{P}/exports/records.ris").text
    assert "N1  - metareview title_abstract outcome: include" in ris


def test_backup_from_the_browser_restores_into_a_fresh_postgresql_store(
    sqlite_world: World, postgres_server, tmp_path: Path
) -> None:
    w = sqlite_world
    _screen_example(w.store)
    ids = example_ids(w.store)
    included = w.store.screening_status(PROJECT, "full_text")["record_id"].iloc[0]
    w.store.attach_fulltext(PROJECT, included, PDF, "paper.pdf", actor="ana")
    w.store.set_keywords(PROJECT, ["ketamine"], ["rat"], actor="Olga")
    answer = w.client("olga").get(f"{P}/exports/backup.zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = tmp_path / "crps-backup.zip"
    archive.write_bytes(answer.content)
    with postgres_server.fresh_database() as url:
        fresh = Store.open(url)
        try:
            assert fresh.restore_project(archive, actor="olga") == PROJECT
            again = zipfile.ZipFile(io.BytesIO(fresh.export_archive(PROJECT)))
            first = zipfile.ZipFile(archive)
            assert sorted(again.namelist()) == sorted(first.namelist())
            assert f"fulltext/{hashlib.sha256(PDF).hexdigest()}.pdf" in first.namelist()
            redone = json.loads(again.read("project.json"))
            entry = redone["audit_log"].pop()
            assert entry["reason"] == f"restored from backup {archive}"
            assert dumps(redone) == first.read("project.json").decode("utf-8")
            for name in first.namelist():
                if name != "project.json":
                    assert again.read(name) == first.read(name), name
            assert fresh.prisma_counts(PROJECT) == w.store.prisma_counts(PROJECT)
            assert fresh.fulltext(PROJECT, included)[1] == PDF
            assert len(ids) == len(fresh.records(PROJECT))
        finally:
            fresh.close()


def test_fulltext_upload_and_download_by_role(sqlite_world: World) -> None:
    w = sqlite_world
    rid = _included(w.store)
    path = f"{P}/records/{rid}/fulltext"

    def upload(user: str | None, content: bytes = PDF, kind: str = "application/pdf"):
        client = w.client(user)
        data = {} if user is None else {"csrf_token": w.csrf(client)}
        return client.post(path, data=data, files={"file": ("Smith 2004.pdf", content, kind)})

    assert [upload(u).status_code for u in CALLERS.values()] == [303, 403, 404, 303, 303]
    assert _statuses(w, "GET", path) == (303, 403, 404, 200, 200)
    got = w.client("ana").get(path)
    assert got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == "inline; filename*=UTF-8''Smith%202004.pdf"
    assert "default-src 'self'" in got.headers["content-security-policy"]
    log = w.store.audit_log(PROJECT)
    entries = log[log["entity"] == "fulltext"]
    assert entries["actor"].tolist() == ["ana", "olga"]  # the second replaced the first
    assert entries["old"].iloc[1]["sha256"] == entries["new"].iloc[0]["sha256"]
    # the screening page links it for the full-text stage
    page = w.client("ben").get(f"{P}/screen", params={"stage": "full_text", "record": rid})
    assert "Full text: Smith 2004.pdf" in page.text


def test_bad_fulltext_uploads_are_refused(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = sqlite_world
    rid = _included(w.store)
    ana = w.client("ana")

    def upload(record: str, content: bytes, kind: str = "application/pdf"):
        return ana.post(
            f"{P}/records/{record}/fulltext",
            data={"csrf_token": w.csrf(ana)},
            files={"file": ("x.pdf", content, kind)},
        )

    answer = upload(rid, b"<html><script>alert(1)</script>", "text/html")
    assert answer.status_code == 415 and "must be a PDF" in answer.text
    answer = upload(rid, b"MZ\x90\x00 not a pdf at all")
    assert answer.status_code == 422 and "not a PDF" in answer.text
    monkeypatch.setattr(files_routes, "MAX_PDF_BYTES", len(PDF) - 1)
    answer = upload(rid, PDF)
    assert answer.status_code == 413 and "nothing was kept" in answer.text
    monkeypatch.undo()
    other = w.store.screening_status(PROJECT)["record_id"].iloc[1]  # no outcome yet
    answer = upload(other, PDF)
    assert answer.status_code == 422 and "included at title/abstract" in answer.text
    assert upload("no-such-record", PDF).status_code == 422
    assert w.client("ana").get(f"{P}/records/{other}/fulltext").status_code == 404
    assert (w.store.audit_log(PROJECT)["entity"] == "fulltext").sum() == 0
    with pytest.raises(InputError, match="has no full text"):
        w.store.fulltext(PROJECT, rid)
