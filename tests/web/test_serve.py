"""``metareview.web.serve``: the function ``metareview serve`` calls."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn

from metareview.review import Store
from metareview.web import serve


def test_serve_prints_a_bootstrap_link_on_an_empty_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    path = tmp_path / "review.sqlite"
    serve(str(path), host="127.0.0.1", port=8123)
    link = capsys.readouterr().err.strip().splitlines()[-1].strip()
    assert link.startswith("http://127.0.0.1:8123/invite/")
    assert calls[0][1]["host"] == "127.0.0.1" and calls[0][1]["port"] == 8123
    store = Store.open(path)
    assert store.invite_info(link.rsplit("/", 1)[1]).role == "admin"
    store.accept_invite(link.rsplit("/", 1)[1], "admin", "admin-password")
    store.close()
    serve(str(path), port=8124)  # accounts exist now: no link
    assert "invite" not in capsys.readouterr().err
