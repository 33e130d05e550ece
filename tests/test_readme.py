"""The README's Python quick start runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_python_quick_start_runs(capsys):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Random-Effects Model (k = 4; tau^2 estimator: REML)" in out


def test_review_store_quick_start_runs(capsys, tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(from metareview.review import Store.*?)```", text, re.S)
    assert block is not None
    code = block.group(1).replace('"examples/', f'"{README.parent}/examples/')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Ana" in out and "Ben" in out  # the conflict lists both votes once both are in
    assert (tmp_path / "backup" / "project.json").is_file()
    assert (tmp_path / "other.sqlite").is_file() and (tmp_path / "crps.zip").is_file()
