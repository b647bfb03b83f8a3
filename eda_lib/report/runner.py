"""Run the notebook suite: one data pass, then every notebook, then the index page.

:func:`run` reads as its steps::

    select notebooks -> prepare out_dir -> start the kernel server -> ensure tables
        -> run each notebook -> write index

and :func:`run_notebook` as its own::

    read the .py (jupytext) -> execute (papermill) -> save the .ipynb -> render the HTML

A notebook that raises does not stop the run: its executed notebook, with papermill's
error banner, is saved and rendered like the others, and the index marks it failed.

Every notebook runs on a kernel that is this very interpreter (:data:`sys.executable`),
whatever kernelspecs are installed: see :class:`InterpreterKernelManager`. Kernels are
forked, one per notebook, from a kernel server that has imported what the notebooks
import (:mod:`eda_lib.report.kernels`); :func:`run` starts it before the data pass.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import errno
import functools
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path

import jupytext
import nbformat
import papermill
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

from ..config import HOW_PARAMS, Config
from ..datapass import MANIFEST, ensure_tables, load_tables, pass_summary
from ..dataset.index import check_layout, fingerprint
from ..errors import ConfigError, DiskFullError
from ..files import (
    OUT_FOLDERS,
    check_paths,
    free_bytes,
    is_disk_full,
    out_dir_lock,
    unwritable_out_dir,
    write_bytes_atomic,
    write_text_atomic,
)
from ..tables import code_digest, tables_dir
from . import pages
from .kernels import (
    FORK_AVAILABLE,
    KERNEL_NAME,
    InterpreterKernelManager,
    KernelPool,
    interpreter_kernel_spec,
    preload_modules,
)
from .records import FIGURE_KEY, INDEX_NAME, NotebookRecord, RunResult

#: The notebooks of the suite: ``notebooks/`` next to the package, in the repository.
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"

#: Notebooks run side by side per worker of ``cfg.n_workers``. Forked kernels share the
#: imported modules, so a few more kernels than cores cost little memory, and a long
#: notebook no longer waits for a free slot behind shorter ones (see :func:`run_notebooks`).
KERNELS_PER_WORKER = 2


def run(
    cfg: Config,
    *,
    only: Sequence[str] | None = None,
    notebooks_dir: Path | str | None = None,
    progress: bool = True,
    use_cache: bool = True,
) -> RunResult:
    """Run the data pass and the notebooks, and write the report under ``cfg.out_dir``.

    Parameters
    ----------
    cfg : Config
        Parameters of the run; they are also injected into every notebook.
    only : sequence of str, optional
        Notebooks to run, by file stem (``"01_index"``) or by the name after the
        number (``"index"``); all of them when not given.
    notebooks_dir : Path or str, optional
        Folder of ``NN_name.py`` notebooks; :data:`NOTEBOOKS_DIR` when not given.
    progress : bool, default True
        Show progress bars on stderr; they show only when ``cfg.progress`` is true too.
    use_cache : bool, default True
        Reuse stored tables and cached per-file results; False measures every file again.

    Returns
    -------
    RunResult
        One record per notebook run. A notebook that raised is ``failed`` in it; the
        run itself does not raise for that. With ``only``, the index lists the other
        notebooks of the folder too where their outputs are current (made from the
        same inputs, :func:`inputs_key`): a run of one section does not hide the rest
        of the report.

    Raises
    ------
    ConfigError
        For an unknown name in ``only``, a folder without notebooks, or an ``out_dir``
        another run is writing to (:func:`eda_lib.files.out_dir_lock`).
    DataError
        For a data folder that is missing or not in the layout, before anything is
        written (:func:`eda_lib.dataset.index.check_layout`), and from the data pass.
    """
    show = progress and cfg.progress
    folder = Path(notebooks_dir or NOTEBOOKS_DIR).resolve()
    sources = select_notebooks(folder, only)
    check_paths(cfg)
    check_layout(cfg.data_dir)  # a wrong data folder stops the run before out_dir is made
    with out_dir_lock(cfg.out_dir):
        return _run_locked(cfg, sources, select_notebooks(folder), show, use_cache)


def _run_locked(cfg: Config, sources: Sequence[Path], every: Sequence[Path], show: bool,
                use_cache: bool) -> RunResult:
    prepare_out_dir(cfg)
    try:
        with kernel_pool(sources) as kernels:
            if kernels is not None and not _all_reusable(sources, cfg, use_cache):
                kernels.start()  # its imports overlap the data pass
            ran = ensure_tables(cfg, progress=show, use_cache=use_cache)
            records = run_notebooks(sources, cfg, show, reuse=use_cache, kernels=kernels)
        result = RunResult(cfg.out_dir, records, pass_summary(cfg, ran))
        listed = RunResult(cfg.out_dir, current_records(every, records, cfg), result.data_pass)
        pages.write_index(cfg.out_dir, listed, cfg, fingerprint(cfg.data_dir),
                          pages.package_versions(), load_tables(cfg, build=False))
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        _remove_partial_notebooks(cfg)
        folder = Path(exc.filename).parent if exc.filename else cfg.out_dir
        raise DiskFullError(folder, free_bytes(folder), report_bytes(cfg)) from exc
    return result


#: The report's size, measured on the demo data (115 images: 47 MB, nearly all of it
#: figures, pages and executed notebooks, which the grid sizes bound) and on 420 images
#: (tables and cache about 2 KB per file): a generous estimate for the disk-full message.
_REPORT_FIXED_BYTES = 64 << 20
_REPORT_BYTES_PER_FILE = 8 << 10


def report_bytes(cfg: Config) -> int:
    """About how many bytes a run's report takes: a fixed part for figures, pages and
    notebooks, and a part per data file for tables and cache."""
    n_files = fingerprint(cfg.data_dir)["files"] if cfg.data_dir.is_dir() else 0
    return _REPORT_FIXED_BYTES + _REPORT_BYTES_PER_FILE * n_files


def _remove_partial_notebooks(cfg: Config) -> None:
    """Remove the notebooks papermill was still writing when the run stopped."""
    for partial in (cfg.out_dir / "notebooks").glob("*.partial.ipynb"):
        partial.unlink(missing_ok=True)


def select_notebooks(notebooks_dir: Path, only: Iterable[str] | None = None) -> list[Path]:
    """The ``NN_name.py`` notebooks of a folder, in order, optionally filtered by name.

    Raises
    ------
    ConfigError
        If the folder holds no notebook, or a name in ``only`` matches none of them.
    """
    found = sorted(notebooks_dir.glob("[0-9][0-9]_*.py"))
    if not found:
        raise ConfigError(
            f"no notebooks found in {notebooks_dir}: expected NN_name.py files "
            "(jupytext py:percent); check the folder given to --notebooks",
            key="notebooks",
        )
    if only is None:
        return found
    wanted = set(only)
    known = {name for path in found for name in (path.stem, _short_name(path))}
    unknown = sorted(wanted - known)
    if unknown:
        raise ConfigError(
            f"unknown notebook {unknown[0]!r} for --only; known notebooks: "
            + ", ".join(path.stem for path in found),
            key="only",
        )
    return [path for path in found if {path.stem, _short_name(path)} & wanted]


def _short_name(path: Path) -> str:
    return path.stem.split("_", 1)[1]


def prepare_out_dir(cfg: Config) -> None:
    """Create the output folders and remove the index page of an earlier run.

    The index is written last, so until this run finishes no index claims its outputs.

    Raises
    ------
    ConfigError
        If ``out_dir`` is the data folder or inside it (the data folder is read only),
        or cannot be written.
    """
    check_paths(cfg)
    try:
        for folder in OUT_FOLDERS:
            (cfg.out_dir / folder).mkdir(parents=True, exist_ok=True)
        probe = cfg.out_dir / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise unwritable_out_dir(cfg.out_dir, exc) from exc
    (cfg.out_dir / INDEX_NAME).unlink(missing_ok=True)


def kernel_pool(sources: Sequence[Path]) -> contextlib.AbstractContextManager[KernelPool | None]:
    """A :class:`~eda_lib.report.kernels.KernelPool` preloaded with what ``sources``
    import, not started yet; ``None`` (as a context) where processes cannot fork."""
    if not FORK_AVAILABLE:
        return contextlib.nullcontext()
    return KernelPool(preload_modules(sources))


def current_records(every: Sequence[Path], records: Sequence[NotebookRecord], cfg: Config
                    ) -> tuple[NotebookRecord, ...]:
    """``records``, with a kept record for each notebook of ``every`` that did not run
    but whose saved outputs are current (as a run would keep them: same inputs, ran
    without error, page on disk), in the order of ``every``. A notebook whose outputs
    are out of date or failed is left out: its old page shows other inputs."""
    ran = {record.name: record for record in records}
    listed = []
    for source in every:
        if source.stem in ran:
            listed.append(ran.pop(source.stem))
            continue
        saved = _saved_notebook(_notebook_path(source, cfg))
        if not _kept(saved, source, cfg):
            continue
        duration = _metadata(saved).get("papermill", {}).get("duration")
        listed.append(NotebookRecord(
            name=source.stem, title=notebook_title(_parsed(source), default=source.stem),
            status="ok", seconds=float(duration) if isinstance(duration, (int, float)) else 0.0,
            error=None, notebook=_notebook_path(source, cfg), html=_html_path(source, cfg),
            reused=True))
    return (*listed, *ran.values())


def _current(saved: Mapping | None, source: Path, cfg: Config) -> bool:
    """Whether a notebook's saved outputs were made from its current inputs
    (:func:`inputs_key`) without error, and its page exists. Nothing is written."""
    return (saved is not None and _saved_key(saved) == inputs_key(source, cfg)
            and _html_path(source, cfg).exists())


def _kept(saved: Mapping | None, source: Path, cfg: Config) -> bool:
    """Whether a notebook's saved outputs can stand for a run of it now: they are
    :func:`_current`, and every figure it shows is in ``figures/`` (written back from
    the notebook if not)."""
    return _current(saved, source, cfg) and restore_figures(saved, cfg.out_dir / "figures")


def _all_reusable(sources: Sequence[Path], cfg: Config, reuse: bool) -> bool:
    """Whether, as the tables stand now, every notebook's saved outputs can be kept
    (then a warm run starts no kernel server ahead of need)."""
    return reuse and all(_current(_saved_notebook(_notebook_path(source, cfg)), source, cfg)
                         for source in sources)


def run_notebooks(
    sources: Sequence[Path], cfg: Config, show: bool, reuse: bool = True,
    kernels: KernelPool | None = None,
) -> tuple[NotebookRecord, ...]:
    """Run the notebooks, ``KERNELS_PER_WORKER * cfg.n_workers`` at a time, under one
    progress bar.

    Each notebook has its own kernel and only reads the tables, so they can run side
    by side; records come back in the notebooks' order whatever order they finish in.
    More notebooks than cores run at once because their times differ tenfold: the
    cores stay busy until the last one ends, rather than one core finishing a long
    notebook started last while the other idles.

    Kernels are forked from ``kernels`` (a pool is made for the call when none is
    given, and closed after it). Rendering is a step of its own, on one thread of its
    own: a worker hands the executed notebook over and starts its next kernel, and each
    page is written as soon as its notebook is executed. Notebooks start in order of
    their expected time, longest first (:func:`expected_seconds`), so that a long one
    does not start last.
    """
    parallel = max(1, min(cfg.n_workers * KERNELS_PER_WORKER, len(sources)))
    with contextlib.ExitStack() as stack:
        if kernels is None:
            kernels = stack.enter_context(kernel_pool(sources))
        bar = stack.enter_context(tqdm(total=len(sources), desc="notebooks", unit="nb",
                                       file=sys.stderr, disable=not show))
        render = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="render"))
        pool = stack.enter_context(ThreadPoolExecutor(parallel, thread_name_prefix="notebook"))
        existing = {p.stem for p in (cfg.out_dir / "html").glob("*.html")}
        available = existing | {source.stem for source in sources}

        def step(source: Path) -> Future[NotebookRecord]:
            finish = execute_step(source, cfg, reuse, available, kernels)
            rendered = render.submit(finish)
            rendered.add_done_callback(lambda _: (bar.set_postfix_str(source.stem),
                                                  bar.update()))
            return rendered

        order = sorted(sources, key=lambda source: -expected_seconds(source, cfg))
        executed = {source: pool.submit(step, source) for source in order}
        try:
            for future in as_completed(executed.values()):
                future.result()  # an error (a full disk) stops the run here ...
            return tuple(executed[source].result().result() for source in sources)
        except BaseException:
            for future in executed.values():
                future.cancel()  # ... once the notebooks already running have ended
            raise


#: Seconds a notebook is guessed to take before it has run once: a fixed part, and a
#: part per figure it shows (one for ``s.show``, a gallery's few for ``s.show_all``, a
#: group of galleries' more for ``s.show_groups``). Drawing figures is most of a
#: notebook's time; on the demo the guess orders the sections as their measured times
#: do but for neighbours within a second of each other.
GUESS_SECONDS = 0.5
GUESS_PER_FIGURE = 0.3
GUESS_FIGURES = {"show": 1, "show_all": 3, "show_groups": 6}


def expected_seconds(source: Path, cfg: Config) -> float:
    """How long a notebook is expected to take: its last execution's duration, as
    papermill recorded it in the saved notebook, or, before its first run, a guess
    from the figures its source shows (:data:`GUESS_FIGURES`)."""
    saved = _saved_notebook(_notebook_path(source, cfg))
    duration = _metadata(saved).get("papermill", {}).get("duration")
    if isinstance(duration, (int, float)):
        return float(duration)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return GUESS_SECONDS
    figures = sum(weight * len(re.findall(rf"\.{name}\(", text))
                  for name, weight in GUESS_FIGURES.items())
    return GUESS_SECONDS + GUESS_PER_FIGURE * figures


def run_notebook(source: Path, cfg: Config, reuse: bool = True,
                 available: Collection[str] | None = None,
                 kernels: KernelPool | None = None) -> NotebookRecord:
    """Execute one ``.py`` notebook, save it and render it to HTML.

    A failure inside the notebook is recorded, not raised: the executed notebook,
    with papermill's error banner, is saved and rendered all the same. With
    ``reuse``, a notebook whose inputs are those of its last successful run is not
    executed again: its saved notebook and HTML are kept. ``available`` names the
    section pages the page may link to (see :func:`section_nav`). The kernel is
    forked from ``kernels`` when given, else started from scratch.
    """
    return execute_step(source, cfg, reuse, available, kernels)()


def execute_step(source: Path, cfg: Config, reuse: bool = True,
                 available: Collection[str] | None = None,
                 kernels: KernelPool | None = None) -> Callable[[], NotebookRecord]:
    """The first half of :func:`run_notebook`: execute and save the notebook (or find
    that its outputs can be kept).

    Returns
    -------
    callable
        The second half: renders the page (unless the outputs were kept) and returns
        the :class:`NotebookRecord`, whose ``seconds`` run from the start of the
        first half to the end of the second.
    """
    start = time.perf_counter()
    nb = read_source(source)
    title = notebook_title(nb, default=source.stem)
    notebook_path = _notebook_path(source, cfg)
    html_path = _html_path(source, cfg)
    figures = cfg.out_dir / "figures"
    saved = _saved_notebook(notebook_path)  # read once: it can be megabytes of figures
    reused = reuse and _kept(saved, source, cfg)
    kept = saved if reused else None
    executed, error = None, None
    if not reused:
        shown_before = figure_files(saved or {})
        nb.metadata["eda_lib"] = {"inputs": inputs_key(source, cfg)}
        executed, error = execute(nb, source, cfg, notebook_path, kernels)
        for name in shown_before - figure_files(executed):  # no longer shown: not kept
            (figures / name).unlink(missing_ok=True)

    def finish() -> NotebookRecord:
        nav = section_nav(source, available)
        if executed is not None:
            render_html(executed, html_path, title, show_code=cfg.show_code, nav=nav)
        elif kept is not None and not _page_has(html_path, pages.nav_bar(title, nav)):
            # kept, but its neighbours changed since its page was written
            render_html(nbformat.read(notebook_path, as_version=4), html_path, title,
                        show_code=cfg.show_code, nav=nav)
        return NotebookRecord(
            name=source.stem,
            title=title,
            status="failed" if error else "ok",
            seconds=time.perf_counter() - start,
            error=error,
            notebook=notebook_path,
            html=html_path,
            reused=reused,
        )

    return finish


def _saved_notebook(notebook_path: Path) -> dict | None:
    """A saved notebook as plain JSON, or None when there is none that can be read.

    Plain JSON: the metadata and the figures' outputs are all the runner reads of it,
    and nbformat would validate megabytes of outputs first.
    """
    try:
        nb = json.loads(notebook_path.read_bytes())
    except (OSError, ValueError):
        return None
    return nb if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else None


def figure_files(nb: Mapping) -> set[str]:
    """Names of the files in ``figures/`` of the figures an executed notebook shows
    (the outputs :meth:`eda_lib.report.session.Session.show` named, see
    :data:`~eda_lib.report.records.FIGURE_KEY`)."""
    return {name for name, _ in _figure_outputs(nb)}


def _figure_outputs(nb: Mapping) -> Iterable[tuple[str, str]]:
    """(file name, base64 PNG) of every figure output of ``nb``."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if isinstance(cell, Mapping) else []:
            meta = output.get("metadata", {}).get(FIGURE_KEY) if isinstance(output, Mapping) \
                else None
            name = meta.get("file") if isinstance(meta, Mapping) else None
            if isinstance(name, str) and name == Path(name).name and name.endswith(".png"):
                yield name, str(output.get("data", {}).get("image/png", ""))


def restore_figures(nb: Mapping, figures: Path) -> bool:
    """Write again, from the saved notebook ``nb``, each of its figures missing from
    ``figures/``: the notebook holds the very bytes of the file it showed. False when
    one cannot be written back (its notebook must then run again)."""
    for name, data in _figure_outputs(nb):
        path = figures / name
        if path.exists():
            continue
        try:
            png = base64.b64decode(data, validate=False)
        except ValueError:
            return False
        if not png.startswith(b"\x89PNG"):
            return False
        figures.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, png)
    return True


def _page_has(html_path: Path, text: str) -> bool:
    """Whether the page at ``html_path`` holds ``text`` (False when it cannot be read)."""
    try:
        return text in html_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def _notebook_path(source: Path, cfg: Config) -> Path:
    return cfg.out_dir / "notebooks" / f"{source.stem}.ipynb"


def _html_path(source: Path, cfg: Config) -> Path:
    return cfg.out_dir / "html" / f"{source.stem}.html"


def inputs_key(source: Path, cfg: Config) -> str:
    """Hash of everything a notebook's output depends on.

    The notebook's text, the parameters (but those of :data:`~eda_lib.config.HOW_PARAMS`,
    which change how a run works, not what it shows), the tables' manifest (data
    fingerprint, analysis version and pass parameters) and the source of :mod:`eda_lib`
    itself.
    """
    h = hashlib.sha256()
    h.update(source.read_bytes())
    shown = {k: v for k, v in cfg.to_dict().items() if k not in HOW_PARAMS}
    h.update(json.dumps(shown, sort_keys=True).encode())
    manifest = tables_dir(cfg) / MANIFEST
    h.update(manifest.read_bytes() if manifest.exists() else b"no tables")
    h.update(code_digest().encode())
    return h.hexdigest()


def _saved_key(saved: Mapping | None) -> str | None:
    """The inputs key of a saved notebook (:func:`_saved_notebook`) that ran without
    error, else None."""
    meta = _metadata(saved)
    failed = meta.get("papermill", {}).get("exception")
    return None if failed else meta.get("eda_lib", {}).get("inputs")


def _metadata(saved: Mapping | None) -> dict:
    """The metadata of a saved notebook (:func:`_saved_notebook`), {} when there is none."""
    meta = saved.get("metadata") if saved is not None else None
    return meta if isinstance(meta, dict) else {}


def read_source(source: Path) -> nbformat.NotebookNode:
    """Read a jupytext notebook and set its kernel to this interpreter."""
    nb = copy.deepcopy(_parsed(source))
    spec = interpreter_kernel_spec()
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": spec.display_name,
        "language": spec.language,
    }
    return nb


def _parsed(source: Path) -> nbformat.NotebookNode:
    """The jupytext notebook at ``source``, parsed once while the file is unchanged (the
    runner reads each notebook for its run and again for its neighbours' page links)."""
    stat = source.stat()
    return _parse(source, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _parse(source: Path, mtime_ns: int, size: int) -> nbformat.NotebookNode:
    return jupytext.read(source)


def notebook_title(nb: nbformat.NotebookNode, default: str) -> str:
    """Text of the first markdown heading of a notebook, or ``default``."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or default
    return default


class SaveAtEndEngine(NBClientEngine):
    """Papermill's nbclient engine, saving the notebook when execution ends rather than
    before and after every cell as well.

    Papermill serialises and validates the whole notebook, figures included, at each of
    those saves: hundreds per run, a second of the runner's CPU, for files no one reads
    before the end. The save at the end (papermill's ``notebook_complete``) still
    happens however execution ends, a dead kernel included, with the outputs so far.

    Papermill's own switch, ``request_save_on_cell_execute=False``, would hand the engine
    no output path at all, and a notebook whose kernel died would be lost. Here the
    engine's manager keeps none while the cells run (``NotebookExecutionManager.save``
    saves only "if an output path is known", as papermill documents it) and gets it
    back before the final save. Tests pin both: one save per notebook, and a dead
    kernel's outputs kept.
    """

    NAME = "eda_lib_save_at_end"

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        path, nb_man.output_path = nb_man.output_path, None  # no save per cell ...
        try:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        finally:
            nb_man.output_path = path  # ... but the one at the end


papermill_engines.register(SaveAtEndEngine.NAME, SaveAtEndEngine)


#: Times a notebook's kernel is started when it dies before its first reply.
KERNEL_START_TRIES = 3
#: What jupyter_client raises for a kernel that died before its first reply.
_KERNEL_START_FAILED = "Kernel died before replying to kernel_info"


def execute(
    nb: nbformat.NotebookNode, source: Path, cfg: Config, target: Path,
    kernels: KernelPool | None = None,
) -> tuple[nbformat.NotebookNode, str | None]:
    """Execute a notebook with papermill and save it to ``target``.

    Papermill saves the notebook under a ``.partial.ipynb`` name next to ``target``
    when execution ends, however it ends (:class:`SaveAtEndEngine`); it becomes
    ``target`` only once execution is over. The kernel is forked from ``kernels`` when
    given (see :mod:`eda_lib.report.kernels`), else started from scratch by
    :class:`InterpreterKernelManager`; either way papermill injects the parameters, and
    nbclient shuts the kernel down when the notebook ends.

    Returns
    -------
    executed : NotebookNode
        The executed notebook, with papermill's error banner if a cell raised.
    error : str or None
        ``"ErrorName: value"`` of that exception.
    """
    partial = target.with_name(f"{target.stem}.partial.ipynb")
    try:
        for attempt in range(KERNEL_START_TRIES):
            try:
                papermill.execute_notebook(
                    nb,
                    partial,
                    parameters=cfg.to_dict(),
                    cwd=source.parent,
                    progress_bar=False,
                    engine_name=SaveAtEndEngine.NAME,
                    kernel_manager_class=(InterpreterKernelManager if kernels is None
                                          else kernels.kernel_manager_class),
                )
                break
            except RuntimeError as exc:
                # a kernel that dies before its first reply has run nothing: on a busy
                # machine the ports it was given can be taken before it binds them
                if _KERNEL_START_FAILED not in str(exc) or attempt == KERNEL_START_TRIES - 1:
                    raise
                partial.unlink(missing_ok=True)
        error = None
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
        if _disk_full_in_kernel(exc):  # as if it had happened here, naming the kernel's file
            partial.unlink(missing_ok=True)
            written = re.search(r": '(.+)'$", str(exc.evalue))
            where = written.group(1) if written else str(target.parent.parent / "figures" / "?")
            raise OSError(errno.ENOSPC, exc.evalue, where) from exc
    except Exception as exc:  # the kernel died or would not start: record it, go on
        if is_disk_full(exc):
            partial.unlink(missing_ok=True)
            raise
        error = f"{type(exc).__name__}: {exc}"
        if not partial.exists():
            nbformat.write(nb, partial)
    executed = nbformat.read(partial, as_version=4)
    stable_cell_ids(executed)
    join_streams(executed)
    # Papermill records the paths it was given: the notebook object and the partial file.
    executed.metadata.setdefault("papermill", {}).update(input_path=str(source), output_path=str(target))
    write_text_atomic(target, nbformat.writes(executed))
    partial.unlink()
    return executed, error


def _disk_full_in_kernel(exc: PapermillExecutionError) -> bool:
    """Whether a notebook stopped because its kernel could not write (a figure, say) to
    a full device: the error a full disk gives, not a fault of the notebook."""
    return exc.ename in ("OSError", "IOError") and str(exc.evalue).startswith(
        (f"[Errno {errno.ENOSPC}]", f"[Errno {errno.EDQUOT}]"))


def stable_cell_ids(nb: nbformat.NotebookNode) -> None:
    """Give every cell an id derived from its source, so re-runs write identical files.

    Reading a ``.py`` notebook and injecting parameters make random ids; a hash of
    the source (with a counter for repeated sources) is the same in every run and
    does not move when other cells are added.
    """
    seen: dict[str, int] = {}
    for cell in nb.cells:
        digest = hashlib.sha1(cell.source.encode("utf-8")).hexdigest()[:12]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def join_streams(nb: nbformat.NotebookNode) -> None:
    """Join each run of consecutive stream outputs of one name (stdout, stderr) into one.

    The kernel sends what a cell prints in pieces as its buffer is flushed (every 0.2 s,
    and whenever a figure is displayed), so the same prints made one output in one run
    and two in the next, depending on timing alone. Joined, the file is the same in
    every run; outputs of other kinds, and their order, are kept.
    """
    for cell in nb.cells:
        joined = []
        for output in cell.get("outputs", []):
            last = joined[-1] if joined else None
            if (output.output_type == "stream" and last is not None
                    and last.output_type == "stream" and last.name == output.name):
                last.text += output.text
            else:
                joined.append(output)
        if "outputs" in cell:
            cell.outputs = joined


def render_html(
    nb: nbformat.NotebookNode, target: Path, title: str, *, show_code: bool, nav: pages.SectionNav
) -> Path:
    """Render an executed notebook to its standalone section page.

    Parameters
    ----------
    nb : NotebookNode
        The executed notebook (saved as it is: hiding code only concerns the page).
    target : Path
        The page to write, ``html/NN_name.html``.
    title : str
        Title of the section.
    show_code : bool
        Show the code cells (``cfg.show_code``); otherwise only markdown and outputs.
    nav : SectionNav
        Links to the index and the neighbouring sections, as from :func:`section_nav`.

    Returns
    -------
    Path
        ``target``.
    """
    page = pages.section_page(nb, title, show_code=show_code, nav=nav)
    return write_text_atomic(target, page)


def section_nav(source: Path, available: Collection[str] | None = None) -> pages.SectionNav:
    """Links of a section page: the index and the sections before and after it.

    Neighbours are taken in the order of the notebooks folder, which is the order of
    the index after a full run; their pages sit next to this one in ``html/``. With
    ``available`` (the names of the pages that exist or are being written), a
    neighbour without a page is skipped for the next one that has one, so that a run
    with ``--only`` into a fresh folder links no missing page.
    """
    suite = select_notebooks(source.parent)
    position = suite.index(source)
    has_page = [available is None or path.stem in available for path in suite]

    def link(path: Path) -> pages.Link:
        title = notebook_title(_parsed(path), default=path.stem)
        return pages.Link(title, f"{path.stem}.html")

    before = [p for p, ok in zip(suite[:position], has_page[:position]) if ok]
    after = [p for p, ok in zip(suite[position + 1:], has_page[position + 1:]) if ok]
    return pages.SectionNav(
        previous=link(before[-1]) if before else None,
        next=link(after[0]) if after else None,
    )
