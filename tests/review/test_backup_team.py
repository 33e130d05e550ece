"""The project backup carries the team's work beyond screening and extraction: screening
keywords, allocations, "not duplicates" judgements, related-report links, memberships and the
full-text PDFs; the archive of :meth:`Store.export_archive` restores into a fresh store
(SQLite, then PostgreSQL) and exports again equal, apart from the restore's own audit entry."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review import accounts as accounts_module
from metareview.review.backup import dumps
from metareview.review.extraction_form import ExtractionForm

from .builders import build_project, write_ris

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts_module, "ARGON2_PARAMETERS", {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    )


def team_project(store: Store, tmp_path: Path, form: ExtractionForm) -> list[str]:
    """build_project's project with accounts, keywords, an allocation, a "not duplicates"
    judgement and two PDFs (one replaced)."""
    ids = build_project(store, tmp_path, form)
    store.accept_invite(store.bootstrap_invite(), "olga", "olga-password")
    store.add_member("review", "olga", "owner", by="olga", reviewer_name="Olga")
    token = store.create_invite("review", "viewer", by="olga")
    store.accept_invite(token, "vera", "vera-password")
    store.set_keywords("review", ["ketamine", "anaesth*"], ["rat"], actor="Olga")
    store.import_file("review", write_ris(tmp_path / "late.ris", 3, prefix="Late"))
    store.allocate("review", "title_abstract", ["Ana", "Ben"], actor="Olga")
    store.not_duplicates("review", ids[1], ids[2], actor="Olga", reason="different doses")
    link = store.link_report("review", ids[2], ids[1], kind="erratum", actor="Olga", reason="a")
    store.unlink_report("review", link, actor="Olga", reason="not about that article")
    store.link_report("review", ids[3], ids[0], kind="comment", actor="Olga", reason="letter")
    store.attach_fulltext("review", ids[0], PDF, "correll.pdf", actor="Ana")
    store.attach_fulltext("review", ids[3], PDF + b"v1", "goebel.pdf", actor="Ben")
    store.attach_fulltext("review", ids[3], PDF + b"v2", "goebel 2015.pdf", actor="Ben")
    return ids


def test_archive_round_trip_into_a_fresh_store(
    store_url: str, tmp_path: Path, form: ExtractionForm
) -> None:
    original = Store.open(tmp_path / "original.sqlite")
    target = Store.open(store_url)
    try:
        original.create_project("review")
        ids = team_project(original, tmp_path, form)
        archive = tmp_path / "review.zip"
        archive.write_bytes(original.export_archive("review"))
        with zipfile.ZipFile(archive) as z:
            doc = json.loads(z.read("project.json"))
            pdfs = sorted(n for n in z.namelist() if n.startswith("fulltext/"))
        assert len(pdfs) == 2
        assert [k["keyword"] for k in doc["screening_keywords"]] == ["ketamine", "anaesth*", "rat"]
        assert {m["user"] for m in doc["memberships"]} == {"olga", "vera"}
        assert not any("hash" in key for m in doc["memberships"] for key in m)
        assert len(doc["not_duplicates"]) == 1 and doc["assignments"]
        assert [(r["kind"], r["active"]) for r in doc["related_reports"]] == [
            ("erratum", False),
            ("comment", True),
        ]
        assert [f["filename"] for f in doc["fulltexts"]] == ["correll.pdf", "goebel 2015.pdf"]

        assert target.restore_project(archive, actor="Olga") == "review"
        again = tmp_path / "again.zip"
        again.write_bytes(target.export_archive("review"))
        with zipfile.ZipFile(again) as z:
            redone = json.loads(z.read("project.json"))
            for name in z.namelist():
                if name != "project.json":
                    assert z.read(name) == zipfile.ZipFile(archive).read(name), name
        entry = redone["audit_log"].pop()
        assert entry["reason"] == f"restored from backup {archive}"
        assert entry["new"]["accounts_created"] == ["olga", "vera"]
        assert dumps(redone) == dumps(doc)
        # what the restored store answers
        assert target.keywords("review") == original.keywords("review")
        assert target.judged_not_duplicates("review") == original.judged_not_duplicates("review")
        related = ["report_id", "article_id", "kind", "reason", "created_by", "active"]
        assert target.related_reports("review")[related].equals(
            original.related_reports("review")[related]
        )
        assert target.workload("review", "title_abstract") == original.workload(
            "review", "title_abstract"
        )
        info, content = target.fulltext("review", ids[3])
        assert (info.filename, content) == ("goebel 2015.pdf", PDF + b"v2")
        assert [m["username"] for m in target.members("review")] == ["olga", "vera"]
        # accounts created by the restore cannot log in until an administrator acts
        assert target.login("vera", "vera-password") is None
    finally:
        original.close()
        target.close()


def test_archive_with_an_altered_pdf_is_refused(tmp_path: Path, form: ExtractionForm) -> None:
    original = Store.open("sqlite://")
    original.create_project("review")
    team_project(original, tmp_path, form)
    data = original.export_archive("review")
    altered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(altered, "w") as out:
        for name in z.namelist():
            out.writestr(name, z.read(name) + (b"x" if name.startswith("fulltext/") else b""))
    path = tmp_path / "altered.zip"
    path.write_bytes(altered.getvalue())
    target = Store.open("sqlite://")
    with pytest.raises(InputError, match=r"fulltexts\[0\] \('correll.pdf'\).*SHA-256 differs"):
        target.restore_project(path, actor="Olga")
    assert target.projects() == []
    (tmp_path / "not.zip").write_bytes(b"PK nonsense")
    with pytest.raises(InputError, match="not a readable zip archive"):
        target.restore_project(tmp_path / "not.zip", actor="Olga")


def test_a_backup_written_before_these_sections_still_restores(
    tmp_path: Path, form: ExtractionForm
) -> None:
    original = Store.open("sqlite://")
    original.create_project("review")
    build_project(original, tmp_path, form)
    path = original.export_project("review", tmp_path / "backup")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for section in (
        "screening_keywords",
        "assignments",
        "not_duplicates",
        "related_reports",
        "memberships",
    ):
        assert doc.pop(section) == []
    assert doc.pop("fulltexts") == []
    path.write_text(dumps(doc), encoding="utf-8")
    target = Store.open("sqlite://")
    assert target.restore_project(path, actor="Olga") == "review"
