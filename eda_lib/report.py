"""The index page of a run, and the atomic writes every output file goes through.

:func:`write_index` turns a :class:`~eda_lib.runner.RunResult` into ``index.html``:
one static, self-contained page (inline CSS, no scripts, no external resources) with
the sections and their status, the parameters, the package versions and the data
fingerprint. It carries no date, so the same run gives the same page apart from the
durations.
"""

from __future__ import annotations

import html
import os
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .config import PARAMS, Config

if TYPE_CHECKING:
    from .runner import NotebookRecord, RunResult

#: File name of the index page, at the top of the output folder.
INDEX_NAME = "index.html"

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

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2328; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
p.summary { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #eaeef2;
         vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: 12px;
         font-weight: 600; color: #fff; }
.badge.ok { background: #1a7f37; }
.badge.failed { background: #cf222e; }
td.error { color: #cf222e; }
.warning { border: 2px solid #cf222e; background: #ffebe9; color: #82071e; padding: .6rem 1rem;
           border-radius: .4rem; font-weight: 600; }
"""


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    The temporary file sits in the same folder, so the rename is atomic: a reader
    (or a crash) never finds a half-written file under the final name.

    Parameters
    ----------
    path : Path
        Final file name; its folder must exist.
    text : str
        Content, written as UTF-8.

    Returns
    -------
    Path
        ``path``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


def write_index(
    out_dir: Path,
    result: RunResult,
    cfg: Config,
    fingerprint: Mapping[str, Any],
    versions: Mapping[str, str],
) -> Path:
    """Write ``index.html`` of a run into ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        The output folder of the run; links are relative to it.
    result : RunResult
        The notebooks that ran, in order, with their status and HTML.
    cfg : Config
        The parameters of the run.
    fingerprint : mapping
        Fingerprint of the data folder (``files``, ``bytes``, ``sha256``).
    versions : mapping of str to str
        Package versions, as from :func:`package_versions`.

    Returns
    -------
    Path
        The index page.
    """
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
            f'<p class="summary">{_e(_summary(result))}</p>',
            _warnings(cfg),
            "<h2>Sections</h2>",
            _sections_table(out_dir, result.records),
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
    return write_text_atomic(Path(out_dir) / INDEX_NAME, page)


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


def _summary(result: RunResult) -> str:
    failed = sum(r.status == "failed" for r in result.records)
    seconds = sum(r.seconds for r in result.records)
    return (
        f"{len(result.records)} sections, {failed} failed; "
        f"notebooks ran for {seconds:.1f} s in total."
    )


def _sections_table(out_dir: Path, records: Iterable[NotebookRecord]) -> str:
    rows = []
    for r in records:
        link = quote(r.html.relative_to(out_dir).as_posix())
        rows.append(
            "<tr>"
            f'<td><a href="{_e(link)}">{_e(r.title)}</a><br><code>{_e(r.name)}</code></td>'
            f'<td><span class="badge {_e(r.status)}">{_e(r.status)}</span></td>'
            f'<td class="num">{"unchanged, kept" if r.reused else f"{r.seconds:.1f} s"}</td>'
            f'<td class="error">{_e(r.error or "")}</td>'
            "</tr>"
        )
    return _table(("section", "status", "duration", "error"), rows)


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
