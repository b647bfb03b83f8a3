"""Tests of eda_lib.pages.runner, and of the index page it writes (eda_lib.pages.pages).

The fixture notebooks in ``tests/notebooks`` stand for the suite: ``01_broken`` raises,
``02_ok`` prints its interpreter, working folder and ``out_dir``. The data pass and the
fingerprint are replaced: these tests are about running notebooks, not measuring images.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from eda_lib import files
from eda_lib.config import PARAMS, make_config
from eda_lib.errors import ConfigError, LayoutError
from eda_lib.report import pages, records, runner

FIXTURES = Path(__file__).resolve().parents[1] / "notebooks"
FINGERPRINT = {"files": 3, "bytes": 1234, "sha256": "ab" * 32}
MISSING_PYTHON = "/nonexistent/bin/python"


def write_user_kernelspec(jupyter_dir: Path) -> Path:
    """A ``python3`` kernelspec that would start a missing interpreter if it were used."""
    spec_dir = jupyter_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [MISSING_PYTHON, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (someone else's)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return jupyter_dir


@pytest.fixture
def no_data_pass(monkeypatch):
    """Replace the data pass by a recorder and the fingerprint by a constant (the data
    folder, never made, is taken as it is)."""
    calls = []
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables",
                        lambda cfg, progress, use_cache=True: calls.append(progress))
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: FINGERPRINT)
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)
    return calls


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """One run of both fixture notebooks, with a user python3 kernelspec in the way."""
    tmp = tmp_path_factory.mktemp("suite")
    seen_at_data_pass = []

    def ensure_tables(cfg, progress, use_cache=True):
        seen_at_data_pass.append(sorted(p.name for p in cfg.out_dir.rglob("*")))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(write_user_kernelspec(tmp / "jupyter")))
        mp.setattr(runner, "check_layout", lambda data_dir: None)
        mp.setattr(runner, "ensure_tables", ensure_tables)
        mp.setattr(runner, "fingerprint", lambda data_dir: FINGERPRINT)
        mp.setattr(runner, "load_tables", lambda cfg, build: None)
        cfg = make_config({"data_dir": tmp / "data", "out_dir": tmp / "out"})
        result = runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    return cfg, result, seen_at_data_pass


def outputs_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


# --------------------------------------------------------------------------- one run


def test_failed_notebook_is_recorded_and_the_run_goes_on(suite):
    _, result, _ = suite
    assert [(r.name, r.status) for r in result.records] == [("01_broken", "failed"),
                                                           ("02_ok", "ok")]
    assert result.records[0].error == (
        "ValueError: deliberate failure <in> the fixture notebook"
    )
    assert result.records[1].error is None
    assert not result.ok
    assert [r.title for r in result.records] == ["Breaks on purpose", "Runs to the end"]


def test_failed_notebook_is_saved_with_the_error_banner_and_rendered(suite):
    _, result, _ = suite
    broken = result.records[0]
    nb = nbformat.read(broken.notebook, as_version=4)
    tags = [tag for cell in nb.cells for tag in cell.metadata.get("tags", [])]
    assert "papermill-error-cell-tag" in tags
    assert not any("never reached" in outputs_text(c) for c in nb.cells if c.cell_type == "code")
    page = broken.html.read_text(encoding="utf-8")
    assert "An Exception was encountered" in page
    assert "ValueError" in page and "deliberate failure" in page


def test_kernel_is_this_interpreter_in_the_notebooks_folder(suite):
    cfg, result, _ = suite
    nb = nbformat.read(result.records[1].notebook, as_version=4)
    printed = outputs_text(nb.cells[-1]).splitlines()
    assert printed == [sys.executable, str(FIXTURES.resolve()), str(cfg.out_dir)]


def test_a_user_python3_kernelspec_would_have_won_the_lookup(tmp_path, monkeypatch):
    # Guards the test above: the kernelspec it plants is the one a name lookup finds.
    monkeypatch.setenv("JUPYTER_PATH", str(write_user_kernelspec(tmp_path)))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == MISSING_PYTHON
    assert runner.InterpreterKernelManager().kernel_spec.argv[0] == sys.executable


def test_executed_notebook_records_parameters_and_real_paths(suite):
    cfg, result, _ = suite
    meta = nbformat.read(result.records[1].notebook, as_version=4).metadata
    assert meta.papermill.parameters == cfg.to_dict()
    assert meta.papermill.input_path == str(FIXTURES.resolve() / "02_ok.py")
    assert meta.papermill.output_path == str(result.records[1].notebook)
    assert meta.kernelspec.name == runner.KERNEL_NAME


def test_data_pass_runs_once_before_any_notebook(suite):
    _, _, seen_at_data_pass = suite
    assert seen_at_data_pass == [sorted([files.LOCK_NAME, *files.OUT_FOLDERS])]


def test_outputs_are_complete_files_only(suite):
    cfg, result, _ = suite
    names = sorted(p.relative_to(cfg.out_dir).as_posix() for p in cfg.out_dir.rglob("*.*"))
    assert names == [
        files.LOCK_NAME,  # held while the run wrote here
        "html/01_broken.html",
        "html/02_ok.html",
        "index.html",
        "notebooks/01_broken.ipynb",
        "notebooks/02_ok.ipynb",
    ]
    assert result.index_html == cfg.out_dir / "index.html"


def test_index_links_resolve_and_mark_the_failure(suite):
    cfg, result, _ = suite
    page = result.index_html.read_text(encoding="utf-8")
    links = re.findall(r'href="([^"]+)"', page)
    assert links == ["html/01_broken.html", "html/02_ok.html"]
    assert all((cfg.out_dir / unquote(link)).is_file() for link in links)
    broken_row = next(row for row in page.split("<tr>") if "01_broken" in row)
    assert 'class="badge failed"' in broken_row
    assert "ValueError: deliberate failure &lt;in&gt; the fixture notebook" in broken_row
    assert FINGERPRINT["sha256"] in page


# --------------------------------------------------------------------------- before notebooks


def test_a_missing_data_folder_stops_the_run_before_anything_is_written(tmp_path):
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out" / "report"})
    with pytest.raises(LayoutError, match="does not exist") as info:
        runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    assert info.value.kind == "missing_data_dir"
    assert not (tmp_path / "out").exists()  # no folder, no lock


def test_data_error_stops_the_run_and_leaves_no_stale_index(tmp_path, monkeypatch):
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    (cfg.data_dir / "train_images").mkdir(parents=True)  # in the layout, as far as names go
    cfg.out_dir.mkdir()
    (cfg.out_dir / "index.html").write_text("from an earlier run", encoding="utf-8")

    def ensure_tables(cfg, progress, use_cache=True):
        raise LayoutError("no train_images folder", path=cfg.data_dir, kind="layout")

    monkeypatch.setattr(runner, "ensure_tables", ensure_tables)
    with pytest.raises(LayoutError):
        runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    assert not (cfg.out_dir / "index.html").exists()
    assert not list((cfg.out_dir / "notebooks").iterdir())


def test_out_dir_inside_data_dir_is_refused(tmp_path, no_data_pass):
    cfg = make_config({"data_dir": tmp_path, "out_dir": tmp_path / "reports"})
    with pytest.raises(ConfigError, match="outside the data folder") as info:
        runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    assert info.value.key == "out_dir"
    assert not no_data_pass


def test_unwritable_out_dir_is_a_usage_error(tmp_path, no_data_pass):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": blocker / "reports"})
    with pytest.raises(ConfigError, match="cannot write to out_dir") as info:
        runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    assert info.value.key == "out_dir"
    assert not no_data_pass


@pytest.mark.parametrize(
    "only, expected",
    [
        (None, ["01_broken", "02_ok"]),
        (["ok"], ["02_ok"]),
        (["ok", "01_broken", "ok"], ["01_broken", "02_ok"]),
    ],
)
def test_select_notebooks_by_stem_or_short_name(only, expected):
    assert [p.stem for p in runner.select_notebooks(FIXTURES, only)] == expected


def test_unknown_notebook_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="'nope'.*01_broken, 02_ok") as info:
        runner.select_notebooks(FIXTURES, ["ok", "nope"])
    assert info.value.key == "only"


def test_folder_without_notebooks_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no notebooks found"):
        runner.select_notebooks(tmp_path)


@pytest.mark.parametrize(
    "cells, title",
    [
        ([("code", "# not a heading")], "fallback"),
        ([("markdown", "Some text"), ("markdown", "intro\n\n## Masks  ")], "Masks"),
        ([("markdown", "#")], "fallback"),
    ],
)
def test_notebook_title_is_the_first_markdown_heading(cells, title):
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}
    nb = nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in cells])
    assert runner.notebook_title(nb, default="fallback") == title


# --------------------------------------------------------------------------- report


def test_index_escapes_text_and_needs_nothing_external(tmp_path):
    cfg = make_config({"data_dir": tmp_path / "<data>", "out_dir": tmp_path / "out"})
    (cfg.out_dir / "html").mkdir(parents=True)
    record = records.NotebookRecord(
        name="01_x", title="<script>alert(1)</script>", status="failed", seconds=1.25,
        error='KeyError: "<b>"', notebook=cfg.out_dir / "notebooks" / "01_x.ipynb",
        html=cfg.out_dir / "html" / "01_x.html",
    )
    result = records.RunResult(cfg.out_dir, (record,))
    path = pages.write_index(cfg.out_dir, result, cfg, FINGERPRINT, {"numpy": "2.0"})
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;data&gt;" in page and "1.2 s" in page and "1,234" in page
    assert not re.search(r"(src=|https?:|@import)", page)
    assert all(f"<code>{p.name}</code>" in page for p in PARAMS)


def test_package_versions_name_every_package():
    versions = pages.package_versions()
    assert list(versions) == ["python", *pages.DISTRIBUTIONS]
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["eda_lib"] != "not installed"


def test_write_text_atomic_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "page.html"
    target.write_text("old", encoding="utf-8")
    assert files.write_text_atomic(target, "new") == target
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_unchanged_notebooks_are_kept_and_changed_inputs_rerun(tmp_path, no_data_pass):
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out",
                       "progress": False})
    first = runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    assert [r.reused for r in first.records] == [False, False]
    again = runner.run(cfg, notebooks_dir=FIXTURES, progress=False)
    status = {r.name: (r.status, r.reused) for r in again.records}
    # the failed notebook runs again; the good one is kept
    assert status == {"01_broken": ("failed", False), "02_ok": ("ok", True)}
    assert "unchanged, kept" in (cfg.out_dir / "index.html").read_text(encoding="utf-8")
    # how the run works (workers, progress...) is not what it shows
    how = cfg.replace(workers=3, progress=True, cache_dir=tmp_path / "elsewhere")
    assert runner.inputs_key(FIXTURES / "02_ok.py", how) == \
        runner.inputs_key(FIXTURES / "02_ok.py", cfg)
    changed = runner.run(cfg.replace(seed=7), notebooks_dir=FIXTURES, progress=False)
    assert not any(r.reused for r in changed.records)
    forced = runner.run(cfg.replace(seed=7), notebooks_dir=FIXTURES, progress=False,
                        use_cache=False)
    assert not any(r.reused for r in forced.records)


def test_a_run_of_one_section_keeps_the_current_rest_of_the_report_in_the_index(
        tmp_path, no_data_pass):
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out",
                       "progress": False})
    runner.run(cfg, notebooks_dir=FIXTURES, progress=False)

    def listed() -> list[str]:
        page = (cfg.out_dir / "index.html").read_text(encoding="utf-8")
        return re.findall(r'href="html/([^"]+)\.html"', page)

    one = runner.run(cfg, only=["broken"], notebooks_dir=FIXTURES, progress=False)
    assert [r.name for r in one.records] == ["01_broken"]  # what ran
    assert listed() == ["01_broken", "02_ok"]  # 02_ok's page is current: still listed
    ok_row = next(row for row in (cfg.out_dir / "index.html").read_text(
        encoding="utf-8").split("<tr>") if "02_ok" in row)
    assert "unchanged, kept" in ok_row
    runner.run(cfg.replace(seed=7), only=["broken"], notebooks_dir=FIXTURES, progress=False)
    assert listed() == ["01_broken"]  # 02_ok's page shows seed 42: not listed for seed 7


def test_kernel_shutdown_sends_no_interrupt_but_interrupts_still_work():
    """jupyter_client interrupts before shutting down; an idle kernel then logs
    "KeyboardInterrupt caught in kernel" as an error on the console."""
    import asyncio
    import signal

    async def scenario() -> list[int]:
        km = runner.InterpreterKernelManager()
        sent: list[int] = []
        send = km._async_signal_kernel

        async def spy(signum: int) -> None:
            sent.append(signum)
            await send(signum)

        km._async_signal_kernel = spy
        await km.start_kernel()
        try:
            await km.interrupt_kernel()  # an explicit interrupt is still sent
        finally:
            await km.shutdown_kernel()
        assert not km.has_kernel
        return sent

    assert asyncio.run(scenario()) == [signal.SIGINT]


def test_join_streams_joins_consecutive_prints_of_one_stream_only():
    out = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("print(1); display(fig); print(2); print(3)")
    cell.outputs = [out("stream", name="stdout", text="1\n"),
                    out("display_data", data={"text/plain": "fig"}),
                    out("stream", name="stdout", text="2\n"),
                    out("stream", name="stdout", text="3\n"),
                    out("stream", name="stderr", text="warning\n"),
                    out("stream", name="stdout", text="4\n")]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    runner.join_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "1\n"), ("display_data", None, None),
        ("stream", "stdout", "2\n3\n"), ("stream", "stderr", "warning\n"),
        ("stream", "stdout", "4\n")]
    assert "outputs" not in nb.cells[1]


def test_each_source_is_parsed_once_while_unchanged(tmp_path, monkeypatch):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for k, title in enumerate(["One", "Two", "Three"], start=1):
        (folder / f"0{k}_s.py").write_text(f"# %% [markdown]\n# # {title}\n\n# %%\nx = {k}\n",
                                           encoding="utf-8")
    reads = []
    real_read = runner.jupytext.read
    monkeypatch.setattr(runner.jupytext, "read", lambda path: reads.append(path) or real_read(path))
    sources = runner.select_notebooks(folder)
    for source in sources:  # as a run does: each notebook, and its neighbours' titles
        nb = runner.read_source(source)
        nb.cells[0].source = "# changed in memory"  # a copy: the next reader is unaffected
        runner.section_nav(source)
    assert sorted(reads) == sources
    assert runner.section_nav(sources[1]).previous == pages.Link("One", "01_s.html")
    sources[0].write_text("# %% [markdown]\n# # One, renamed\n", encoding="utf-8")
    assert runner.section_nav(sources[1]).previous == pages.Link("One, renamed", "01_s.html")


def test_a_kernel_that_dies_before_its_first_reply_is_started_again(tmp_path, no_data_pass,
                                                                     monkeypatch):
    """On a busy machine a new kernel's ports can be taken before it binds them; it has
    run nothing, so it is started again, a few times at most."""
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out",
                       "progress": False})
    real = runner.papermill.execute_notebook
    tries = []

    def flaky(*args, **kwargs):
        tries.append(1)
        if len(tries) < runner.KERNEL_START_TRIES:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner.papermill, "execute_notebook", flaky)
    result = runner.run(cfg, only=["ok"], notebooks_dir=FIXTURES, progress=False)
    assert result.ok and len(tries) == runner.KERNEL_START_TRIES

    def dead(*args, **kwargs):
        raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(runner.papermill, "execute_notebook", dead)
    failed = runner.run(cfg, only=["ok"], notebooks_dir=FIXTURES, progress=False,
                        use_cache=False)
    (record,) = failed.records
    assert record.status == "failed" and "Kernel died before replying" in record.error
