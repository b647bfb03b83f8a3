"""Tests of eda_lib.pages.pages: the index page (facts, cards) and the section pages.

Tables, figures and notebooks are written by hand in tmp_path; only the last test runs
notebooks (the runner's fixture notebooks, with the data pass replaced).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image

from eda_lib import tables
from eda_lib.config import make_config
from eda_lib.report import pages, records, runner

FIXTURES = Path(__file__).resolve().parents[1] / "notebooks"
FINGERPRINT = {"files": 3, "bytes": 1234, "sha256": "ab" * 32}

#: Ways a page could make the browser fetch something from another server.
EXTERNAL_LOADS = re.compile(
    r"""\b(?:src|srcset|poster)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?\s*(?:[a-z]+:)?//"""
    r"""|url\(\s*["']?\s*(?:[a-z]+:)?//"""
    r"""|import\s*\(\s*["'](?:[a-z]+:)?//"""
    r"""|@import""",
    re.IGNORECASE,
)


def external_loads(page: str) -> list[str]:
    return EXTERNAL_LOADS.findall(page)


def visible_text(page: str) -> str:
    """The text a reader sees: the body without tags, entities resolved."""
    body = page.split("</head>", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def write_figure(path: Path, width: int, height: int, value: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)
    return path.read_bytes()


def png_output(data: bytes):
    return new_output("display_data", data={"image/png": base64.b64encode(data).decode()})


@pytest.fixture
def run_tables(tmp_path) -> tables.Tables:
    """Tables of a tiny dataset, also written to ``out/tables``.

    train: 2 authentic, 3 forged (2 with a mask, 1 twin pair), one unusable authentic;
    supplemental: 1 forged; test: 1 image (empty label). Three instances in two masks;
    copy-move verdicts copy, copy, undecidable; two problems of two kinds.
    """
    def image(case_id, split, label, has_mask=False, twin=False, status="ok"):
        return {"case_id": case_id, "split": split, "label": label, "has_mask": has_mask,
                "twin": twin, "status": status}

    frames = {
        "images": [
            image("1", "train", "authentic", twin=True),
            image("9", "train", "authentic", status="truncated_image"),
            image("1", "train", "forged", has_mask=True, twin=True),
            image("2", "train", "forged", has_mask=True),
            image("3", "train", "forged"),
            image("4", "supplemental", "forged"),
            image("5", "test", None),
        ],
        "instances": [{"case_id": "1", "split": "train", "instance": 1},
                      {"case_id": "1", "split": "train", "instance": 2},
                      {"case_id": "2", "split": "train", "instance": 1}],
        "copy_move": [{"case_id": "1", "instance": 1, "verdict": "copy"},
                      {"case_id": "1", "instance": 2, "verdict": "undecidable"},
                      {"case_id": "2", "instance": 1, "verdict": "copy"}],
        "problems": [{"path": "train_masks/3.npy", "case_id": "3", "kind": "missing_mask",
                      "detail": ""},
                     {"path": "README.txt", "case_id": "", "kind": "stray_file", "detail": ""}],
    }
    stored = {name: tables.frame(name, frames.get(name, [])) for name in tables.SCHEMAS}
    tables.write_tables(stored, tmp_path / "out" / "tables")
    return tables.Tables(**stored)


# --------------------------------------------------------------------------- facts


def test_facts_are_computed_from_the_tables(run_tables):
    facts = {f.label: f for f in pages.dataset_facts(run_tables)}
    assert list(facts) == ["images", "forged images with a mask", "twin pair", "instances",
                           "copies confirmed", "problems"]
    assert facts["images"].value == "7"
    assert facts["images"].detail == (
        "train: 2 authentic, 3 forged\nsupplemental: 1 forged\ntest: 1\n1 unusable"
    )
    assert (facts["forged images with a mask"].value,
            facts["forged images with a mask"].detail) == ("2 of 4", "2 without")
    assert facts["twin pair"].value == "1"
    assert (facts["instances"].value, facts["instances"].detail) == (
        "3", "forged regions, in 2 masks")
    assert (facts["copies confirmed"].value, facts["copies confirmed"].detail) == (
        "2 of 3", "1 undecidable")
    assert (facts["problems"].value, facts["problems"].detail) == (
        "2", "1 missing_mask, 1 stray_file")
    assert {f.table for f in facts.values()} == {"images", "instances", "copy_move", "problems"}


def test_no_copy_move_fact_when_no_instance_was_analysed(run_tables):
    empty = {"copy_move": tables.frame("copy_move", []), "problems": tables.frame("problems", [])}
    facts = {f.label: f for f in pages.dataset_facts(dataclasses.replace(run_tables, **empty))}
    assert "copies confirmed" not in facts
    assert (facts["problems"].value, facts["problems"].detail) == (
        "0", "every file usable as it is")


# --------------------------------------------------------------------------- index page


def record(out_dir: Path, name: str, title: str, **changes) -> records.NotebookRecord:
    values = dict(name=name, title=title, status="ok", seconds=2.0, error=None,
                  notebook=out_dir / "notebooks" / f"{name}.ipynb",
                  html=out_dir / "html" / f"{name}.html")
    return records.NotebookRecord(**{**values, **changes})


@pytest.fixture
def finished_run(run_tables, tmp_path):
    """An out_dir with tables, figures, notebooks and pages of three sections.

    Section 01 saved two figures and displays ``01_z`` first; section 02 saved one and
    its notebook is missing; section 03 saved none and was kept from an earlier run.
    """
    out = tmp_path / "out"
    cfg = make_config({"data_dir": out.parent / "data", "out_dir": out})
    write_figure(out / "figures" / "01_a.png", 40, 20, 0)
    shown = write_figure(out / "figures" / "01_z.png", 30, 10, 255)
    write_figure(out / "figures" / "02_only.png", 12, 16, 128)
    (out / "notebooks").mkdir()
    nb = new_notebook(cells=[new_code_cell("show()", outputs=[png_output(shown)])])
    nbformat.write(nb, out / "notebooks" / "01_first.ipynb")
    (out / "html").mkdir()
    recs = (
        record(out, "01_first", "1. First"),
        record(out, "02_second", "2. Second <b>", status="failed", error="KeyError: 'x'"),
        record(out, "03_third", "3. Third", reused=True),
    )
    for r in recs:
        r.html.write_text("<html></html>", encoding="utf-8")
    result = records.RunResult(out, recs)
    page = pages.write_index(out, result, cfg, FINGERPRINT, {"numpy": "2.0"}, run_tables)
    return out, result, page.read_text(encoding="utf-8")


def test_key_figure_is_the_first_one_shown_else_the_first_by_name(finished_run):
    out, result, _ = finished_run
    assert [pages.key_figure(out, r) for r in result.records] == [
        out / "figures" / "01_z.png", out / "figures" / "02_only.png", None]


def test_index_shows_the_facts_and_the_tables_they_come_from(finished_run):
    out, _, page = finished_run
    glance = page.split("<h2>At a glance</h2>", 1)[1].split("<h2>", 1)[0]
    assert '<span class="value">2 of 4</span><span class="label">forged images with a mask' \
        in glance
    assert "supplemental: 1 forged" in glance
    linked = {unquote(h) for h in hrefs(glance)}
    assert linked == {"tables/images.csv", "tables/instances.csv", "tables/copy_move.csv",
                      "tables/SCHEMA.md",
                      "tables/problems.csv"}


def test_index_cards_link_existing_pages_and_show_their_key_figure(finished_run):
    out, result, page = finished_run
    cards = re.findall(r'<article class="card[^"]*">.*?</article>', page, re.S)
    assert len(cards) == len(result.records)
    for card, r in zip(cards, result.records):
        assert f'href="html/{r.name}.html"' in card
    first, second, third = cards
    img = re.search(r"<img [^>]+>", first).group(0)
    assert 'src="figures/01_z.png"' in img
    assert 'width="30" height="10"' in img and 'loading="lazy"' in img
    assert 'alt="Key figure of 1. First: 01_z"' in img
    assert 'src="figures/02_only.png"' in second and 'width="12" height="16"' in second
    assert "2. Second &lt;b&gt;" in second and "KeyError: &#x27;x&#x27;" in second
    assert 'class="badge failed"' in second and "2.0 s" in second
    assert "<img" not in third and "unchanged, kept" in third
    for link in re.findall(r'(?:href|src)="([^"]+)"', page):
        assert (out / unquote(link)).is_file(), link


def test_index_is_reproducible_and_needs_nothing_external(finished_run):
    out, result, page = finished_run
    cfg = make_config({"data_dir": out.parent / "data", "out_dir": out})
    again = pages.write_index(out, result, cfg, FINGERPRINT, {"numpy": "2.0"},
                              tables.read_tables(out / "tables"))
    assert again.read_text(encoding="utf-8") == page
    assert not external_loads(page) and "<script" not in page
    assert "http" not in page


# --------------------------------------------------------------------------- section pages


def executed_notebook() -> nbformat.NotebookNode:
    """A small executed notebook: a title, two headings, code with text and a figure."""
    figure = Image.new("RGB", (1600, 400), (200, 30, 30))
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    return new_notebook(cells=[
        new_markdown_cell("# 4. Shapes\n\nIntroduction. See [the docs](https://example.org)."),
        new_markdown_cell("## Área & sizes?"),
        new_code_cell("print('a code line')", execution_count=1,
                      outputs=[new_output("stream", name="stdout", text="an output line\n")]),
        new_markdown_cell("### Detail"),
        new_code_cell("s.show(fig, 'wide')", execution_count=2,
                      outputs=[png_output(buffer.getvalue())]),
    ])


NAV = pages.SectionNav(previous=pages.Link("3. Before", "03_before.html"),
                        next=pages.Link("5. After & more", "05_after.html"))


@pytest.mark.parametrize("show_code", [False, True])
def test_section_page_shows_code_only_when_asked(show_code):
    page = pages.section_page(executed_notebook(), "4. Shapes", show_code=show_code, nav=NAV)
    text = visible_text(page)
    assert "an output line" in text and 'src="data:image/png;base64,' in page
    assert ("print('a code line')" in text) is show_code
    assert ("In [1]:" in text) is show_code


def test_section_page_needs_nothing_external():
    page = pages.section_page(executed_notebook(), "4. Shapes", show_code=True, nav=NAV)
    assert not external_loads(page)
    assert "<script" not in page
    assert 'href="https://example.org"' in page  # a plain link in the text stays


def test_section_page_has_a_navigation_bar_and_contents():
    page = pages.section_page(executed_notebook(), "4. Shapes", show_code=False, nav=NAV)
    bar = re.search(r'<nav class="eda-bar".*?</nav>', page, re.S).group(0)
    assert hrefs(bar) == ["../index.html", "03_before.html", "05_after.html"]
    assert "5. After &amp; more &rarr;" in bar and '<span class="eda-here">4. Shapes<' in bar
    toc = re.search(r'<nav class="eda-toc".*?</nav>', page, re.S).group(0)
    ids = re.findall(r'<h[1-6] id="([^"]+)"', page)
    assert [h.split("#", 1)[1] for h in hrefs(toc)] == ids[1:]  # all but the title
    assert re.findall(r'class="eda-l(\d)"', toc) == ["2", "3"]
    assert ">Área &amp; sizes?</a>" in toc
    # the contents follow the first cell (title and introduction)
    assert page.index("Introduction.") < page.index('<nav class="eda-toc"') < page.index(
        "Área &amp; sizes?<")


def test_section_page_without_neighbours_or_headings():
    nb = new_notebook(cells=[new_markdown_cell("# Alone")])
    page = pages.section_page(nb, "Alone", show_code=False, nav=pages.SectionNav())
    bar = re.search(r'<nav class="eda-bar".*?</nav>', page, re.S).group(0)
    assert hrefs(bar) == ["../index.html"]
    assert "eda-toc" not in page.split("</style>")[-1]


def test_page_headings_skip_anchor_links_and_headings_without_id():
    page = ('<h1>no id</h1><h2 id="A-b">A <em>b</em><a class="anchor-link" href="#A-b">¶</a>'
            '</h2><h3 id="x&amp;y">x&amp;y</h3>')
    assert pages.page_headings(page) == [pages.Heading(2, "A-b", "A b"),
                                          pages.Heading(3, "x&y", "x&y")]


def test_render_html_writes_the_page(tmp_path):
    target = runner.render_html(executed_notebook(), tmp_path / "04_shapes.html", "4. Shapes",
                                show_code=False, nav=NAV)
    assert "an output line" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["04_shapes.html"]


def test_section_nav_follows_the_notebooks_folder():
    broken, ok = runner.select_notebooks(FIXTURES)
    assert runner.section_nav(broken) == pages.SectionNav(
        next=pages.Link("Runs to the end", "02_ok.html"))
    assert runner.section_nav(ok) == pages.SectionNav(
        previous=pages.Link("Breaks on purpose", "01_broken.html"))


def test_section_nav_skips_sections_without_a_page():
    broken, ok = runner.select_notebooks(FIXTURES)
    assert runner.section_nav(ok, available={"02_ok"}) == pages.SectionNav()
    assert runner.section_nav(broken, available={"01_broken", "02_ok"}) == pages.SectionNav(
        next=pages.Link("Runs to the end", "02_ok.html"))


# --------------------------------------------------------------------------- through the runner


def test_only_into_a_fresh_folder_links_no_missing_page(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables", lambda cfg, progress, use_cache=True: None)
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: FINGERPRINT)
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    (ok,) = runner.run(cfg, only=["ok"], notebooks_dir=FIXTURES, progress=False).records
    page = ok.html.read_text(encoding="utf-8")
    assert "01_broken.html" not in page and 'rel="prev"' not in page
    (broken,) = runner.run(cfg, only=["broken"], notebooks_dir=FIXTURES, progress=False).records
    assert "02_ok.html" in broken.html.read_text(encoding="utf-8")  # that page exists now


@pytest.mark.parametrize("show_code", [False, True])
def test_show_code_flows_from_the_config_to_the_page(tmp_path, monkeypatch, show_code):
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables", lambda cfg, progress, use_cache=True: None)
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: FINGERPRINT)
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out",
                       "show_code": show_code})
    result = runner.run(cfg, only=["ok"], notebooks_dir=FIXTURES, progress=False)
    (ok,) = result.records
    page = ok.html.read_text(encoding="utf-8")
    text = visible_text(page)
    assert ("print(sys.executable)" in text) is show_code
    assert sys.executable in text  # the output shows either way
    nb = nbformat.read(ok.notebook, as_version=4)
    assert any("print(sys.executable)" in c.source for c in nb.cells)  # the .ipynb is complete
    for written in (ok.html, result.index_html):
        assert not external_loads(written.read_text(encoding="utf-8"))



def test_a_figure_keeps_its_text_alternative_on_the_page(tmp_path):
    data = write_figure(tmp_path / "f.png", 4, 3, 9)
    described = png_output(data)
    described.metadata = {"image/png": {"alt": 'Areas: "forged" & twins'}}
    nb = new_notebook(cells=[new_markdown_cell("# 4. Shapes"),
                             new_code_cell("show()", outputs=[described, png_output(data)])])
    page = pages.section_page(nb, "4. Shapes", show_code=False, nav=NAV)
    from html.parser import HTMLParser

    class Images(HTMLParser):
        alts: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.alts.append(dict(attrs).get("alt"))

    reader = Images()
    reader.feed(page)
    assert reader.alts == ['Areas: "forged" & twins',
                           "No description has been provided for this image"]
    assert page.count(base64.b64encode(data).decode()) == 2


def test_an_image_without_a_label_is_counted_without_one(run_tables):
    """Stored tables give a test image the empty label, not a missing one."""
    images = run_tables.images.assign(label=run_tables.images["label"].fillna(""))
    facts = {f.label: f for f in pages.dataset_facts(dataclasses.replace(run_tables,
                                                                         images=images))}
    assert "\ntest: 1\n" in facts["images"].detail
