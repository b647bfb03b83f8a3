"""The pages of a report: the index page and one page per section.

Every page is static and stands alone: inline CSS, no script from anywhere, no request
to any server, no date (the same run gives the same pages apart from the durations).

- :func:`write_index` turns a :class:`~eda_lib.report.records.RunResult` into
  ``index.html``: the dataset at a glance (numbers from the run's
  :class:`~eda_lib.tables.Tables`), one card per section
  with its status, duration and key figure (and, for a section that does not apply to
  the data, what it needs), then the parameters, the data fingerprint and the package
  versions.
- :func:`section_page` renders an executed notebook as ``html/NN_name.html`` with
  nbconvert's ``lab`` template, figures embedded, without the scripts that template
  loads from CDNs (require.js, MathJax, Mermaid, the widget renderer), with a bar
  linking the index and the previous and next sections, and a table of contents of
  the page's headings. Code cells show only with ``show_code``. A section that does not
  apply to the data ends at its statement saying so: the page leaves out the headings of
  the cells that were not run.
"""

from __future__ import annotations

import base64
import html
import os
import platform
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nbformat
import pandas as pd
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from PIL import Image

from ..analysis.summary import NOT_APPLICABLE, REST_NOT_APPLICABLE, section_gaps
from ..config import PARAMS, Config
from ..dataset.index import SPLITS
from ..files import write_text_atomic
from ..tables import Tables
from .records import INDEX_NAME, NotebookRecord, RunResult

#: Packages shown on the index page: label -> distributions that provide it, first found wins.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "opencv": (
        "opencv-python-headless",
        "opencv-python",
        "opencv-contrib-python-headless",
        "opencv-contrib-python",
    ),
    "pillow": ("pillow",),
    "scipy": ("scipy",),
    "matplotlib": ("matplotlib",),
    "papermill": ("papermill",),
    "nbconvert": ("nbconvert",),
    "jupytext": ("jupytext",),
    "eda_lib": ("eda-lib",),
}

_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'

_CSS = f"""
body {{ font: 15px/1.5 {_FONT};
       color: #1f2328; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }}
p.summary, p.source {{ color: #59636e; margin-top: 0; }}
p.source {{ font-size: 13px; margin-top: .6rem; }}
a {{ color: #0969da; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eaeef2;
         vertical-align: top; }}
th {{ background: #f6f8fa; font-weight: 600; }}
code {{ font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       overflow-wrap: anywhere; }}
.badge {{ display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: 12px;
         font-weight: 600; color: #fff; }}
.badge.ok {{ background: #1a7f37; }}
.badge.failed {{ background: #cf222e; }}
.warning {{ border: 2px solid #cf222e; background: #ffebe9; color: #82071e; padding: .6rem 1rem;
           border-radius: .4rem; font-weight: 600; }}
.facts {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(10.5rem, 1fr));
          gap: .75rem; }}
.fact {{ border: 1px solid #d0d7de; border-radius: .5rem; padding: .55rem .8rem;
         background: #f6f8fa; }}
.fact .value {{ display: block; font-size: 1.55rem; font-weight: 650; line-height: 1.2;
                font-variant-numeric: tabular-nums; }}
.fact .label {{ display: block; font-weight: 600; }}
.fact .detail {{ display: block; color: #59636e; font-size: 13px; line-height: 1.35;
                 white-space: pre-line; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr));
          gap: 1rem; }}
.card {{ border: 1px solid #d0d7de; border-radius: .5rem; overflow: hidden; background: #fff; }}
.card.failed {{ border: 2px solid #cf222e; }}
.card .figure {{ display: block; height: 11rem; border-bottom: 1px solid #eaeef2;
                 background: #fff; }}
.card .figure img {{ display: block; width: 100%; height: 100%; object-fit: contain; }}
.card .figure.none {{ display: flex; align-items: center; justify-content: center;
                      background: #f6f8fa; color: #8c959f; font-size: 2.5rem; font-weight: 650; }}
.card .body {{ padding: .55rem .8rem .7rem; }}
.card h3 {{ font-size: 1rem; margin: 0 0 .3rem; line-height: 1.3; }}
.card h3 a {{ color: inherit; text-decoration: none; }}
.card h3 a:hover {{ color: #0969da; text-decoration: underline; }}
.card .meta {{ margin: 0; color: #59636e; font-size: 13px; }}
.card .error {{ margin: .4rem 0 0; color: #cf222e; font-size: 13px; overflow-wrap: anywhere; }}
.card .gap {{ margin: .4rem 0 0; color: #59636e; font-size: 13px; }}
.card.na h3 a {{ color: #59636e; }}
"""

#: Name the section template goes by in the exporter's loader.
_SECTION_TEMPLATE_NAME = "eda_lib_section.html.j2"

#: Where the navigation bar goes (first in ``<main>``) and the table of contents (after the
#: first cell, which holds the title and the introduction).
_NAV_SLOT = "<!-- eda_lib: navigation -->"
_TOC_SLOT = "<!-- eda_lib: contents -->"

#: nbconvert's lab page, less every block that loads a script from a CDN, plus our CSS,
#: the two slots, and a figure's ``alt`` text (its image metadata, which nbconvert's lab
#: page leaves out). Kept in Python, not in a .j2 file, so that it ships with the
#: package and a change to it invalidates reused notebooks like any code change.
_SECTION_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}<style>{{ resources.eda_lib.css }}</style>{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.eda_lib.nav_slot }}{%- endblock body_header -%}
{%- block any_cell scoped -%}
{{ super() }}{%- if loop.first %}{{ resources.eda_lib.toc_slot }}{% endif -%}
{%- endblock any_cell -%}
{%- block data_png scoped -%}
{%- set alt = output | get_metadata('alt', 'image/png') -%}
{%- if alt -%}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" \
alt="{{ alt | escape_html }}">
</div>
{%- else -%}{{ super() }}{%- endif -%}
{%- endblock data_png -%}
"""

_SECTION_CSS = f"""
html {{ scroll-padding-top: 3.5rem; }}
body.jp-Notebook {{ padding-top: 2.6rem; }}
main {{ max-width: 1120px; margin: 0 auto; }}
.eda-bar {{ position: fixed; top: 0; left: 0; right: 0; z-index: 100; display: flex;
            align-items: center; gap: 1.25rem; height: 2.6rem; padding: 0 1rem;
            box-sizing: border-box; background: #24292f; color: #d0d7de;
            font: 14px/1.4 {_FONT}; box-shadow: 0 1px 3px rgba(0, 0, 0, .3); }}
.eda-bar a {{ color: #fff; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
              max-width: 18rem; }}
.eda-bar a:hover, .eda-bar a:focus {{ text-decoration: underline; }}
.eda-bar .eda-home {{ font-weight: 600; flex: none; }}
.eda-bar .eda-here {{ flex: 1; min-width: 0; white-space: nowrap; overflow: hidden;
                      text-overflow: ellipsis; }}
.eda-toc {{ margin: .25rem 10px 1rem; padding: .5rem 1rem; border: 1px solid #d0d7de;
            border-radius: 6px; background: #f6f8fa; font: 14px/1.6 {_FONT}; }}
.eda-toc p {{ margin: 0 0 .2rem; font-weight: 600; }}
.eda-toc ol {{ list-style: none; margin: 0; padding: 0; columns: 2 18rem; }}
.eda-toc li {{ break-inside: avoid; }}
.eda-toc a {{ color: #0969da; }}
.eda-toc a:hover {{ text-decoration: underline; }}
.eda-toc .eda-l3 {{ padding-left: 1.2rem; }}
.eda-toc .eda-l4, .eda-toc .eda-l5, .eda-toc .eda-l6 {{ padding-left: 2.4rem; }}
.jp-RenderedImage img, .jp-RenderedMarkdown img {{ max-width: 100%; height: auto; }}
@media (min-width: 1640px) {{
  .eda-toc {{ position: fixed; top: 3.6rem; left: 1rem; width: 15rem; margin: 0;
              max-height: calc(100vh - 5rem); overflow: auto; }}
  .eda-toc ol {{ columns: auto; }}
}}
"""


# --------------------------------------------------------------------------- files


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results.

    Returns
    -------
    dict of str to str
        ``python`` then every label of :data:`DISTRIBUTIONS`; a package that is
        not installed shows as ``"not installed"``.
    """
    versions = {"python": platform.python_version()}
    for label, names in DISTRIBUTIONS.items():
        versions[label] = _installed_version(names)
    return versions


def _installed_version(names: Iterable[str]) -> str:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


# --------------------------------------------------------------------------- index page


@dataclass(frozen=True)
class Fact:
    """One number of the "at a glance" strip of the index page.

    Attributes
    ----------
    value : str
        The number as shown, e.g. ``"115"`` or ``"49 of 86"``.
    label : str
        What it counts, e.g. ``"images"``.
    detail : str
        Its breakdown, e.g. ``"train: 52 authentic, 62 forged"``; may hold several
        lines (one per split for the images).
    table : str
        Name of the table it comes from (``tables/<table>.csv``).
    """

    value: str
    label: str
    detail: str
    table: str


def dataset_facts(tables: Tables) -> list[Fact]:
    """The dataset at a glance, computed from the tables of a run.

    Returns
    -------
    list of Fact
        In order: images by split and label, forged images with a mask, twin pairs,
        instances, copies confirmed by the copy-move analysis, problems. The copy-move
        fact is left out when no instance was analysed (``copy_move`` off); the mask, twin
        and instance facts are left out when the dataset has no labelled image and no mask
        (a flat folder of images, a test-only dataset).
    """
    images, instances = tables.images, tables.instances
    forged = images[images["label"].eq("forged")]
    with_mask = int(forged["has_mask"].sum())
    twins = int(forged["twin"].sum())
    cases = len(instances[["split", "case_id"]].drop_duplicates())
    facts = [Fact(_n(len(images)), _noun(len(images), "image"), _by_split(images), "images")]
    if images["label"].isin(["authentic", "forged"]).any() or len(tables.masks):
        facts += [
            Fact(f"{with_mask:,} of {len(forged):,}", "forged images with a mask",
                 _missing_masks(len(forged) - with_mask), "images"),
            Fact(_n(twins), _noun(twins, "twin pair"),
                 "forged and authentic images sharing a case_id", "images"),
            Fact(_n(len(instances)), _noun(len(instances), "instance"),
                 f"forged regions, in {cases:,} {_noun(cases, 'mask')}", "instances"),
        ]
    copy_move = tables.copy_move
    if len(copy_move):
        verdicts = copy_move["verdict"].value_counts()
        others = ", ".join(f"{n:,} {v}" for v, n in verdicts.items() if v != "copy")
        facts.append(Fact(f"{int(verdicts.get('copy', 0)):,} of {len(copy_move):,}",
                          "copies confirmed", others or "every instance", "copy_move"))
    kinds = tables.problems["kind"].value_counts()
    detail = ", ".join(f"{n:,} {k}" for k, n in kinds.head(3).items())
    if len(kinds) > 3:
        detail += ", ..."
    facts.append(Fact(_n(len(tables.problems)), _noun(len(tables.problems), "problem"),
                      detail or "every file usable as it is", "problems"))
    return facts


def _n(count: int) -> str:
    return f"{count:,}"


def _noun(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _by_split(images: pd.DataFrame) -> str:
    """One line per split, e.g. ``"train: 52 authentic, 62 forged"``, then the unusable."""
    rank = {split: i for i, split in enumerate(SPLITS)}
    splits = sorted(images["split"].dropna().unique(), key=lambda s: (rank.get(s, len(rank)), s))
    parts = []
    for split in splits:
        rows = images[images["split"].eq(split)]
        labels = rows["label"].replace("", None).dropna().value_counts().sort_index()
        counted = ", ".join(f"{n:,} {label}" for label, n in labels.items())
        parts.append(f"{split}: {counted or _n(len(rows))}")
    unusable = int(images["status"].ne("ok").sum())
    return "\n".join(parts) + (f"\n{unusable:,} unusable" if unusable else "")


def _missing_masks(count: int) -> str:
    return f"{count:,} without" if count else "every forged image"


def key_figure(out_dir: Path, record: NotebookRecord) -> Path | None:
    """The figure a section's card shows: the first one its notebook displays.

    Figures of section ``NN`` are the files ``figures/NN_*.png``; the one shown first
    in the executed notebook is found by its bytes (the notebook displays the saved
    PNG itself). When none matches (or the notebook cannot be read) the first in name
    order is taken.

    Parameters
    ----------
    out_dir : Path
        The output folder of the run.
    record : NotebookRecord
        The section.

    Returns
    -------
    Path or None
        The figure, or None when the section saved none.
    """
    section = record.name.split("_", 1)[0]
    figures = sorted((Path(out_dir) / "figures").glob(f"{section}_*.png"))
    shown = _first_png(record.notebook) if figures else None
    if shown is not None:
        for figure in figures:
            if figure.stat().st_size == len(shown) and figure.read_bytes() == shown:
                return figure
    return figures[0] if figures else None


def _first_png(notebook: Path) -> bytes | None:
    """Bytes of the first PNG a saved notebook displays."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError):
        return None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data:
                return base64.b64decode(data)
    return None


def write_index(
    out_dir: Path,
    result: RunResult,
    cfg: Config,
    fingerprint: Mapping[str, Any],
    versions: Mapping[str, str],
    tables: Tables | None = None,
) -> Path:
    """Write ``index.html`` of a run into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        The output folder of the run; links are relative to it. Its ``figures``
        folder gives the key figure of each section (see :func:`key_figure`).
    result : RunResult
        The notebooks that ran, in order, with their status and HTML.
    cfg : Config
        The parameters of the run.
    fingerprint : mapping
        Fingerprint of the data folder (``files``, ``bytes``, ``sha256``).
    versions : mapping of str to str
        Package versions, as from :func:`package_versions`.
    tables : Tables, optional
        The run's tables, for the dataset facts (see :func:`dataset_facts`) and the
        sections that do not apply to the data
        (:func:`eda_lib.analysis.summary.section_gaps`, said on their cards); without
        them the page has no "At a glance" section and every card is plain.

    Returns
    -------
    Path
        The index page.
    """
    out_dir = Path(out_dir)
    gaps = section_gaps(tables) if tables is not None else {}
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>EDA report: {_e(cfg.data_dir.name)}</title>",
            f"<style>{_CSS}</style></head>",
            "<body>",
            f"<h1>EDA report: {_e(cfg.data_dir.name)}</h1>",
            f'<p class="summary">{_e(_summary(result, gaps))}</p>',
            f'<p class="summary">{_e(result.data_pass)}</p>' if result.data_pass else "",
            _warnings(cfg),
            _facts_section(out_dir, tables),
            "<h2>Sections</h2>",
            _cards(out_dir, result.records, gaps),
            "<h2>Parameters</h2>",
            _parameters_table(cfg),
            "<h2>Data fingerprint</h2>",
            _mapping_table(fingerprint, ("field", "value")),
            "<h2>Package versions</h2>",
            _mapping_table(versions, ("package", "version")),
            "</body>",
            "</html>",
            "",
        ]
    )
    return write_text_atomic(out_dir / INDEX_NAME, page)


def _warnings(cfg: Config) -> str:
    """Banners for settings a reader must not miss."""
    if not cfg.allow_pickle:
        return ""
    return (
        '<p class="warning">allow_pickle is on: mask files holding Python objects were '
        "unpickled, which runs code stored in the data folder. Masks loaded this way carry "
        "the note <code>unpickled</code> in tables/masks.csv.</p>"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _href(path: Path, start: Path) -> str:
    """Relative, URL-quoted and HTML-escaped link from folder ``start`` to ``path``."""
    return _e(quote(Path(os.path.relpath(path, start)).as_posix()))


def _summary(result: RunResult, gaps: Mapping[str, str]) -> str:
    failed = sum(r.status == "failed" for r in result.records)
    seconds = sum(r.seconds for r in result.records)
    na = [r for r in result.records if _section(r) in gaps]
    numbers = ", ".join(str(int(_section(r))) for r in na)
    return (
        f"{len(result.records)} sections, {failed} failed"
        + (f", {len(na)} not applicable to this dataset ({numbers})" if na else "")
        + f"; notebooks ran for {seconds:.1f} s in total."
    )


def _section(record: NotebookRecord) -> str:
    """The number of a section, as its notebook's name starts (``"03"``)."""
    return record.name.split("_", 1)[0]


def _facts_section(out_dir: Path, tables: Tables | None) -> str:
    if tables is None:
        return ""
    tables_dir = out_dir / "tables"
    facts = dataset_facts(tables)
    tiles = [
        f'<div class="fact"><span class="value">{_e(f.value)}</span>'
        f'<span class="label">{_e(f.label)}</span>'
        f'<span class="detail">{_e(f.detail)}</span></div>'
        for f in facts
    ]
    sources = [tables_dir / f"{name}.csv" for name in dict.fromkeys(f.table for f in facts)]
    schema = tables_dir / "SCHEMA.md"
    links = ", ".join(f'<a href="{_href(p, out_dir)}">{_e(p.name)}</a>' for p in sources)
    if schema.is_file():
        links += f'; columns in <a href="{_href(schema, out_dir)}">{_e(schema.name)}</a>'
    return "\n".join([
        "<h2>At a glance</h2>",
        '<div class="facts">', *tiles, "</div>",
        f'<p class="source">From the tables {links}.</p>',
    ])


def _cards(out_dir: Path, records: Iterable[NotebookRecord], gaps: Mapping[str, str]) -> str:
    cards = (_card(out_dir, r, gaps.get(_section(r), "")) for r in records)
    return "\n".join(['<div class="cards">', *cards, "</div>"])


def _card(out_dir: Path, r: NotebookRecord, gap: str = "") -> str:
    link = _href(r.html, out_dir)
    figure = None if gap else key_figure(out_dir, r)  # no figure from an earlier run
    if figure is None:
        picture = f'<div class="figure none" aria-hidden="true">{_e(r.name.split("_", 1)[0])}</div>'
    else:
        with Image.open(figure) as im:
            width, height = im.size
        picture = (
            f'<a class="figure" href="{link}"><img src="{_href(figure, out_dir)}" '
            f'width="{width}" height="{height}" loading="lazy" decoding="async" '
            f'alt="{_e(f"Key figure of {r.title}: {figure.stem}")}"></a>'
        )
    duration = "unchanged, kept" if r.reused else f"{r.seconds:.1f} s"
    error = f'<p class="error">{_e(r.error)}</p>' if r.error else ""
    if gap:
        error += f'<p class="gap">Does not apply to this dataset: {_e(gap)}.</p>'
    return (
        f'<article class="card {_e(r.status)}{" na" if gap else ""}">{picture}<div class="body">'
        f'<h3><a href="{link}">{_e(r.title)}</a></h3>'
        f'<p class="meta"><span class="badge {_e(r.status)}">{_e(r.status)}</span> '
        f"{_e(duration)} · <code>{_e(r.name)}</code></p>{error}</div></article>"
    )


def _parameters_table(cfg: Config) -> str:
    values = cfg.to_dict()
    rows = [
        f"<tr><td><code>{_e(p.name)}</code></td><td><code>{_e(values[p.name])}</code></td>"
        f"<td>{_e(p.help)}</td></tr>"
        for p in PARAMS
    ]
    return _table(("parameter", "value", "meaning"), rows)


def _mapping_table(mapping: Mapping[str, Any], header: tuple[str, str]) -> str:
    rows = [
        f"<tr><td>{_e(key)}</td><td><code>{_e(_format_value(value))}</code></td></tr>"
        for key, value in mapping.items()
    ]
    return _table(header, rows)


def _format_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(header: Iterable[str], rows: list[str]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return "\n".join(
        ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *rows, "</tbody>", "</table>"]
    )


# --------------------------------------------------------------------------- section pages


@dataclass(frozen=True)
class Link:
    """A link from a section page to another page: its text and its relative href."""

    title: str
    href: str


@dataclass(frozen=True)
class SectionNav:
    """The links of a section page's navigation bar, relative to the page.

    Attributes
    ----------
    index : str
        The index page; section pages live in ``html/``, one level below it.
    previous, next : Link or None
        The neighbouring sections, None at either end of the suite.
    """

    index: str = f"../{INDEX_NAME}"
    previous: Link | None = None
    next: Link | None = None


@dataclass(frozen=True)
class Heading:
    """A heading of a rendered page: its level (1-6), its id and its text."""

    level: int
    id: str
    text: str


#: One export at a time: an exporter keeps state between the steps of an export.
_EXPORTING = threading.Lock()


@lru_cache(maxsize=2)
def _exporter(show_code: bool) -> HTMLExporter:
    """The section pages' exporter, made once per process for each ``show_code``: making
    one loads and compiles nbconvert's templates (about 0.05 s a page otherwise)."""
    return HTMLExporter(
        template_name="lab",
        template_file=_SECTION_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_SECTION_TEMPLATE_NAME: _SECTION_TEMPLATE})],
        embed_images=True,
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=not show_code,
    )


def section_page(
    nb: nbformat.NotebookNode, title: str, *, show_code: bool, nav: SectionNav
) -> str:
    """Render an executed notebook as a standalone section page.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook; it is not modified.
    title : str
        Page title, shown in the navigation bar too.
    show_code : bool
        Show code cells and their prompts; without it only markdown and outputs show.
    nav : SectionNav
        Links of the navigation bar.

    Returns
    -------
    str
        The HTML page: nbconvert's ``lab`` template with images embedded, without
        the scripts it loads from CDNs, with a fixed navigation bar and, after the
        first cell, a table of contents of the headings (all but the page title's),
        linking to the ids nbconvert gives them.
    """
    exporter = _exporter(show_code)
    with _EXPORTING:
        page, _ = exporter.from_notebook_node(
            applicable_part(nb),
            resources={
                "metadata": {"name": title},
                "eda_lib": {"css": _SECTION_CSS, "nav_slot": _NAV_SLOT, "toc_slot": _TOC_SLOT},
            },
        )
    headings = page_headings(page)
    if headings and headings[0].text == title:
        headings = headings[1:]
    page = page.replace(_NAV_SLOT, nav_bar(title, nav), 1)
    return page.replace(_TOC_SLOT, _contents(headings), 1)


def applicable_part(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` up to the cell that says the section, or the rest of it, does not apply to
    the data, or all of it.

    A section that does not apply prints a statement beginning with
    :data:`~eda_lib.analysis.summary.NOT_APPLICABLE` (the rest of a section:
    :data:`~eda_lib.analysis.summary.REST_NOT_APPLICABLE`) and its later cells are not
    run; their headings would head nothing. ``nb`` is not modified.

    Parameters
    ----------
    nb : NotebookNode
        An executed notebook.

    Returns
    -------
    NotebookNode
        ``nb`` itself when no cell printed the statement, else a copy that ends with the
        cell that did.
    """
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and \
                    str(output.get("text", "")).startswith((NOT_APPLICABLE, REST_NOT_APPLICABLE)):
                return nbformat.from_dict({**nb, "cells": nb.cells[: i + 1]})
    return nb


def page_headings(page: str) -> list[Heading]:
    """The headings of an HTML page that carry an id, in order.

    Their text leaves out nbconvert's anchor links (the ``¶`` after each heading).

    Examples
    --------
    >>> page_headings('<h2 id="Area">Area<a class="anchor-link" href="#Area">¶</a></h2>')
    [Heading(level=2, id='Area', text='Area')]
    """
    parser = _HeadingParser()
    parser.feed(page)
    parser.close()
    return parser.headings


class _HeadingParser(HTMLParser):
    """Collects ``<h1>``..``<h6>`` elements with an id, skipping anchor-link text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[Heading] = []
        self._open: tuple[int, str] | None = None
        self._text: list[str] = []
        self._in_anchor = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if self._open is None:
            if re.fullmatch(r"h[1-6]", tag) and attributes.get("id"):
                self._open = (int(tag[1]), attributes["id"])
                self._text = []
        elif tag == "a" and "anchor-link" in (attributes.get("class") or "").split():
            self._in_anchor += 1

    def handle_endtag(self, tag: str) -> None:
        if self._open is None:
            return
        if tag == "a" and self._in_anchor:
            self._in_anchor -= 1
        elif tag == f"h{self._open[0]}":
            text = " ".join("".join(self._text).split())
            self.headings.append(Heading(self._open[0], self._open[1], text))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and not self._in_anchor:
            self._text.append(data)


def nav_bar(title: str, nav: SectionNav) -> str:
    """The navigation bar of a section page, as :func:`section_page` writes it."""
    parts = [
        '<nav class="eda-bar" aria-label="Report">',
        f'<a class="eda-home" href="{_e(nav.index)}">EDA report</a>',
        f'<span class="eda-here">{_e(title)}</span>',
    ]
    if nav.previous is not None:
        parts.append(f'<a rel="prev" href="{_e(nav.previous.href)}" '
                     f'title="{_e(nav.previous.title)}">&larr; {_e(nav.previous.title)}</a>')
    if nav.next is not None:
        parts.append(f'<a rel="next" href="{_e(nav.next.href)}" '
                     f'title="{_e(nav.next.title)}">{_e(nav.next.title)} &rarr;</a>')
    parts.append("</nav>")
    return "\n".join(parts)


def _contents(headings: list[Heading]) -> str:
    if not headings:
        return ""
    items = [
        f'<li class="eda-l{h.level}"><a href="#{_e(h.id)}">{_e(h.text)}</a></li>'
        for h in headings
    ]
    return "\n".join(['<nav class="eda-toc" aria-label="Contents"><p>Contents</p><ol>',
                      *items, "</ol></nav>"])
