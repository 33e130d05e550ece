"""`metareview report`: a self-contained HTML report, figures and tables, and clear errors for
a malformed review folder."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metareview import InputError
from metareview.cli import app
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol

EXAMPLE = Path(__file__).parents[2] / "examples" / "ketamine-crps"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return build_report(EXAMPLE, tmp_path_factory.mktemp("out"))


def test_html_is_self_contained_with_no_broken_images(report):
    html = report.html.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(images) == 5
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html.replace("doi.org", "")


def test_html_states_the_headline_findings(report):
    html = report.html.read_text(encoding="utf-8")
    assert "68.8%" in html and "53.5% to 84.1%" in html
    text = " ".join(html.split())
    assert (
        "The published estimate (69%) is reproduced only with Kiefer, R et al (2008a) included"
    ) in text
    assert (
        "Kiefer, R et al (2008b) has zero variance on the raw scale without a continuity correction"
    ) in text
    assert "93.5% of n = 20 is 18.7 people" in html


def test_figures_and_tables_are_written(report):
    names = {p.name for p in report.figures}
    assert {
        "forest_immediate.png",
        "forest_followup.png",
        "forest_pain.png",
        "funnel_pain.png",
        "prisma.png",
    } == names
    for fig in report.figures:
        assert fig.with_suffix(".svg").is_file()
    tables = {p.stem for p in report.tables}
    assert {
        "integrity_flags",
        "immediate_robustness",
        "pain_robustness",
        "published_vs_reproduced",
    } <= tables
    html = report.html.read_text(encoding="utf-8")
    for link in re.findall(r'href="(tables/[^"]+)"', html):  # every CSV link has its file
        assert (report.folder / link).is_file(), link


def _copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "review"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("out"))
    return folder


def test_missing_protocol_is_named(tmp_path):
    folder = _copy_example(tmp_path)
    (folder / "protocol.toml").unlink()
    with pytest.raises(InputError, match=r"protocol.toml not found"):
        load_protocol(folder)


def test_wrong_column_name_names_file_and_column(tmp_path):
    folder = _copy_example(tmp_path)
    path = folder / "protocol.toml"
    path.write_text(path.read_text().replace('column = "Age"', 'column = "Agee"'))
    with pytest.raises(
        InputError,
        match=r"table1.csv: column\(s\) named in protocol.toml not "
        r"found: \[descriptives.age\] column = 'Agee'",
    ):
        load_protocol(folder)


def test_toml_syntax_error_names_the_file(tmp_path):
    folder = _copy_example(tmp_path)
    (folder / "protocol.toml").write_text("[review\ntitle = 1\n")
    with pytest.raises(InputError, match=r"protocol.toml: .*line 1"):
        load_protocol(folder)


def test_empty_study_label_names_the_row(tmp_path):
    folder = _copy_example(tmp_path)
    table = folder / "table1.csv"
    lines = table.read_text(encoding="utf-8").splitlines()
    lines[3] = "," + lines[3].split(",", 2)[2] if lines[3].startswith('"') else lines[3]
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"table1.csv, row 4, column 'Study': empty"):
        load_protocol(folder)


def test_cli_report_prints_summary_and_path(tmp_path):
    result = CliRunner().invoke(app, ["report", str(EXAMPLE), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "Paper vs reproduction" in result.output
    assert "report.html" in result.output
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "is not a folder" in " ".join(bad.output.split())


def test_the_readme_minimal_review_folder_works(tmp_path):
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    protocol = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    folder = tmp_path / "my-review"
    folder.mkdir()
    (folder / "protocol.toml").write_text(protocol, encoding="utf-8")
    (folder / "table1.csv").write_text(
        "Study,Year,N,Responders (%),Pain before,Pain after\n"
        "Adams,2001,20,70,7.1±1.5,4.0±2.0\n"
        "Baker,2005,35,60,6.8±1.9,3.1±2.2\n"
        "Chen,2010,12,-,7.5±1.2,5.0±1.8\n"
        "Diaz,2015,28,75,6.9±1.4,2.9±1.9\n",
        encoding="utf-8",
    )
    out = build_report(folder)
    assert out.html == folder / "out" / "report.html" and out.html.is_file()
    assert out.comparison.empty and not out.reproduction  # no [published]: a new review
    html = out.html.read_text(encoding="utf-8")
    assert "Drug X for condition Y" in html and "Reproduction of" not in html
    assert 'id="outcome-responders"' in html and 'id="outcome-pain"' in html


def test_protocol_text_and_study_labels_are_escaped(tmp_path):
    """The report template is report.html.j2: autoescaping keyed on ".html" alone left it
    off, so a title or a study label went into the page as markup (found by the web app's
    report, which serves this page)."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "protocol.toml").write_text(
        '[review]\ntitle = "<script>alert(1)</script> & co"\ntable = "t.csv"\n'
        '[columns]\nstudy = "Study"\nn = "N"\n'
        '[outcomes.r]\nlabel = "<i>Responders</i>"\ndata = "proportion"\nxi = "x"\n',
        encoding="utf-8",
    )
    (folder / "t.csv").write_text(
        'Study,N,x\n"<img src=1 onerror=alert(2)>",20,12\n"A & ""B""",31,15\nC,44,30\n',
        encoding="utf-8",
    )
    html = build_report(folder).html.read_text(encoding="utf-8")
    for raw in ("<script>alert(1)", "<i>Responders</i>", "<img src=1"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "&lt;i&gt;Responders&lt;/i&gt;" in html
    assert "&lt;img src=1 onerror=alert(2)&gt;" in html


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_report_loads_in_chromium_without_console_messages(report):
    # issue 13: the HTML passes an automated check in a real browser (images are data: URIs
    # whose PNG bytes test_html_is_self_contained_with_no_broken_images decodes)
    import subprocess

    run = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            report.html.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert ":CONSOLE" not in run.stderr, run.stderr
    assert run.stdout.count("<img ") == 5 and "</html>" in run.stdout
