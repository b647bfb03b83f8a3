"""Kernels forked from a warm kernel server (eda_lib.report.kernels), through the runner.

The notebooks here are written into a temporary folder. Each prints what it sees as
``key=value`` lines, which the tests read back from the executed notebooks.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import tempfile
import textwrap
from pathlib import Path

import nbformat
import papermill.engines
import psutil
import pytest

import eda_lib
from eda_lib.config import make_config
from eda_lib.report import kernels, runner
from eda_lib.report.records import RUNNER_ENV

pytestmark = pytest.mark.skipif(not kernels.FORK_AVAILABLE, reason="needs os.fork")

PARAMETERS = '''\
# %% tags=["parameters"]
seed = 42
out_dir = "reports/demo"
'''

#: A module nothing imports at start-up (not IPython, not ipykernel): only a kernel
#: forked from a server that preloaded it, for the notebooks, has it before importing it.
RARE = "wave"


def notebook(title: str, code: str) -> str:
    return f"# %% [markdown]\n# # {title}\n\n{PARAMETERS}\n# %%\n{textwrap.dedent(code)}"


FIRST = notebook("Defines things", f"""\
    import os
    import sys

    print("preloaded=" + str({RARE!r} in sys.modules))
    import {RARE}

    leak = "defined in the first notebook"
    {RARE}.leaked = True
    print(f"pid={{os.getpid()}}")
    print(f"parent={{os.getppid()}}")
    print(f"env={{os.environ.get({RUNNER_ENV!r})}}")
    print(f"seed={{seed}}")
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    print(f"transport={{app.transport}}")
    print(f"sockets={{app.ip}}")
""")

SECOND = notebook("Looks for them", f"""\
    import os

    import {RARE}

    print(f"leak={{'leak' in globals()}}")
    print(f"module_state={{hasattr({RARE}, 'leaked')}}")
    print(f"pid={{os.getpid()}}")
    print(f"parent={{os.getppid()}}")
    print(f"seed={{seed}}")
""")

BROKEN = notebook("Breaks", """\
    raise RuntimeError("broken on purpose")
""")


def write_notebooks(folder: Path, texts: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return runner.select_notebooks(folder)


def printed(record) -> dict[str, str]:
    """The ``key=value`` lines a notebook printed."""
    nb = nbformat.read(record.notebook, as_version=4)
    lines = [line for cell in nb.cells if cell.cell_type == "code"
             for out in cell.outputs if out.output_type == "stream"
             for line in out.text.splitlines()]
    return dict(line.split("=", 1) for line in lines if "=" in line)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    """Three notebooks run on one kernel pool, one at a time: the run, the pool's server
    pid and the records, after the pool has been closed."""
    tmp = tmp_path_factory.mktemp("pooled")
    sources = write_notebooks(tmp / "notebooks", {
        "01_first": FIRST, "02_broken": BROKEN, "03_second": SECOND})
    cfg = make_config({"data_dir": tmp / "data", "out_dir": tmp / "out", "seed": 7,
                       "workers": 1})
    runner.prepare_out_dir(cfg)
    with kernels.KernelPool(kernels.preload_modules(sources)) as pool:
        # one at a time: the second notebook runs after the first, on a kernel of the
        # same server, which is what could leak state
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(runner, "KERNELS_PER_WORKER", 1)
            records = runner.run_notebooks(sources, cfg, show=False, reuse=False, kernels=pool)
        server = pool._server.pid
        left = pool.alive()
    return records, server, left


def test_each_notebook_runs_in_a_fresh_namespace_and_process(pooled):
    records, server, _ = pooled
    first, second = printed(records[0]), printed(records[2])
    assert second["leak"] == "False"
    assert second["module_state"] == "False"
    assert first["pid"] != second["pid"]


def test_kernels_are_forked_from_the_warm_server(pooled):
    records, server, _ = pooled
    first, second = printed(records[0]), printed(records[2])
    assert first["parent"] == second["parent"] == str(server)
    assert first["preloaded"] == "True"  # imported by the server before the notebook did


def test_parameters_and_runner_environment_reach_the_pooled_kernel(pooled):
    records, _, _ = pooled
    assert printed(records[0])["seed"] == printed(records[2])["seed"] == "7"
    assert printed(records[0])["env"] == "1"


def test_failed_notebook_keeps_its_banner_and_the_others_run(pooled):
    records, _, _ = pooled
    assert [(r.name, r.status) for r in records] == [
        ("01_first", "ok"), ("02_broken", "failed"), ("03_second", "ok")]
    assert records[1].error == "RuntimeError: broken on purpose"
    nb = nbformat.read(records[1].notebook, as_version=4)
    assert any("papermill-error-cell-tag" in c.metadata.get("tags", []) for c in nb.cells)
    page = records[1].html.read_text(encoding="utf-8")
    assert "An Exception was encountered" in page and "broken on purpose" in page


def test_pooled_kernels_use_unix_sockets_in_a_folder_removed_with_the_pool(pooled):
    """No TCP port to be taken between the client choosing it and the kernel binding it
    ("Address already in use" when several kernels start at once)."""
    records, _, _ = pooled
    seen = printed(records[0])
    assert seen["transport"] == "ipc"
    folder = Path(seen["sockets"]).parent
    assert folder.name.startswith("eda-kernels-")
    assert not folder.exists()  # the pool has closed


def test_kernels_keep_tcp_where_a_socket_path_would_be_too_long(tmp_path, monkeypatch):
    short = kernels.KernelPool()
    with short:
        prefix = short.socket_prefix()
        assert prefix is not None and len(prefix) + 2 <= kernels._SOCKET_PATH_MAX
        assert short.socket_prefix() != prefix  # one name per kernel
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    with kernels.KernelPool() as pool:
        assert pool.socket_prefix() is None
        manager = pool.kernel_manager_class()

        async def prepare_only():  # up to the launch: nothing starts
            await manager._async_pre_start_kernel()
            await manager._async_cleanup_resources()

        asyncio.run(prepare_only())
        assert manager.transport == "tcp"


@pytest.mark.parametrize("extra, fits", [(0, True), (1, False)])
def test_socket_names_fit_up_to_the_limit(tmp_path, monkeypatch, extra, fits):
    """The longest socket, ``<prefix>-5``, is at most ``_SOCKET_PATH_MAX`` bytes."""
    probe = kernels.KernelPool()
    with probe:
        # prefix = <tempdir>/eda-kernels-XXXXXXXX/k1: the temporary folder plus a fixed length
        overhead = len(probe.socket_prefix()) - len(tempfile.gettempdir())
    room = kernels._SOCKET_PATH_MAX - 2 - overhead - len(str(tmp_path)) - 1 + extra
    assert room > 0, "pytest's tmp_path is too long for this test"
    tempdir = tmp_path / ("t" * room)
    tempdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tempdir))
    with kernels.KernelPool() as pool:
        prefix = pool.socket_prefix()
        if fits:
            assert len(os.fsencode(prefix)) + 2 == kernels._SOCKET_PATH_MAX
            assert Path(prefix).parent.stat().st_mode & 0o777 == 0o700  # its user's only
        else:
            assert prefix is None


def test_a_closed_pool_names_no_socket(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    pool = kernels.KernelPool()
    pool.close()
    with pytest.raises(kernels.KernelPoolError, match="closed"):
        pool.socket_prefix()
    assert list(tmp_path.iterdir()) == []  # and made no folder


def test_no_kernel_or_server_is_left_running(pooled):
    records, server, left = pooled
    assert left == []  # every kernel was shut down by its manager, before the pool closed
    pids = [int(printed(r)["pid"]) for r in (records[0], records[2])]
    assert not any(alive(pid) for pid in [*pids, server])


def test_a_cold_kernel_has_not_imported_what_the_notebooks_import(tmp_path):
    """The counterpart of ``preloaded=True`` above: without a pool, the module is new."""
    sources = write_notebooks(tmp_path / "notebooks", {"01_first": FIRST})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    runner.prepare_out_dir(cfg)
    record = runner.run_notebook(sources[0], cfg, reuse=False)
    assert record.status == "ok"
    assert printed(record)["preloaded"] == "False"
    assert printed(record)["parent"] == str(os.getpid())


def test_run_leaves_no_process_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables", lambda cfg, progress, use_cache=True: None)
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: {"files": 0})
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)
    monkeypatch.setattr(runner.pages, "write_index", lambda *args: None)
    folder = tmp_path / "notebooks"
    write_notebooks(folder, {"01_first": FIRST, "02_second": SECOND})
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    result = runner.run(cfg, notebooks_dir=folder, progress=False)
    assert result.ok
    pids = [int(printed(r)["pid"]) for r in result.records]
    assert not any(alive(pid) for pid in pids)
    after = {p.pid for p in psutil.Process().children(recursive=True) if alive(p.pid)}
    assert after <= before


def test_a_page_is_written_before_the_other_notebooks_end(tmp_path):
    """Rendering does not wait for the whole suite: the second notebook, started after
    the first one, waits for the first one's page and sees it."""
    waits = notebook("Waits for the first page", """\
        import time
        from pathlib import Path

        page = Path(out_dir) / "html" / "01_quick.html"
        deadline = time.monotonic() + 120
        while not page.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"seen={page.exists()}")
    """)
    sources = write_notebooks(tmp_path / "notebooks", {
        "01_quick": notebook("Quick", "print('done=1')"), "02_waits": waits})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out",
                       "workers": 1})
    runner.prepare_out_dir(cfg)
    records = runner.run_notebooks(sources, cfg, show=False, reuse=False)
    assert printed(records[1])["seen"] == "True"


def test_notebooks_start_longest_first(tmp_path, monkeypatch):
    sources = write_notebooks(tmp_path / "notebooks", {
        "01_short": notebook("Short", "print(1)"), "02_long": notebook("Long", "print(2)")})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    runner.prepare_out_dir(cfg)
    assert [runner.expected_seconds(s, cfg) for s in sources] == [runner.GUESS_SECONDS] * 2
    for source, seconds in zip(sources, (1.5, 30.0)):
        nb = nbformat.v4.new_notebook(metadata={"papermill": {"duration": seconds}})
        nbformat.write(nb, runner._notebook_path(source, cfg))
    assert [runner.expected_seconds(s, cfg) for s in sources] == [1.5, 30.0]
    started = []
    monkeypatch.setattr(runner, "KERNELS_PER_WORKER", 1)
    monkeypatch.setattr(runner, "execute_step", lambda source, *args: (
        started.append(source.stem), lambda: source.stem)[1])
    assert runner.run_notebooks(sources, cfg.replace(workers=1), show=False) == (
        "01_short", "02_long")  # results in the notebooks' order ...
    assert started == ["02_long", "01_short"]  # ... the longest started first


def test_before_their_first_run_notebooks_with_more_figures_are_guessed_longer(tmp_path):
    sources = write_notebooks(tmp_path / "notebooks", {
        "01_text": notebook("Text", "print(1)"),
        "02_plot": notebook("Plot", "s.show(fig, 'a')\ns.show(fig, 'b')"),
        "03_gallery": notebook("Gallery", "s.show_all(figs)\ns.show_groups(groups)")})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    guess = [runner.expected_seconds(s, cfg) for s in sources]
    per = runner.GUESS_PER_FIGURE
    assert guess == pytest.approx([runner.GUESS_SECONDS + per * n for n in (0, 2, 9)])


def test_the_suite_notebooks_guessed_longest_are_the_galleries():
    cfg = make_config({"data_dir": "data", "out_dir": "nowhere"})
    sources = runner.select_notebooks(runner.NOTEBOOKS_DIR)
    ranked = sorted(sources, key=lambda s: -runner.expected_seconds(s, cfg))
    assert {s.stem[:2] for s in ranked[:3]} == {"05", "06", "10"}
    assert ranked[-1].stem.startswith("11")


def test_preload_lists_kernel_modules_then_the_notebooks_imports(tmp_path):
    sources = write_notebooks(tmp_path, {
        "01_a": notebook("A", "import os, json\nfrom eda_lib.report import plots\n"),
        "02_b": notebook("B", "%matplotlib inline\nimport json\nfrom . import nothing\n"),
    })
    names = kernels.preload_modules(sources)
    assert names[:len(kernels.KERNEL_MODULES)] == kernels.KERNEL_MODULES
    assert {"os", "json", "eda_lib.report", "eda_lib.report.plots"} <= set(names)
    assert len(names) == len(set(names))
    assert not any(name.startswith(".") or "nothing" in name for name in names)


def test_preload_has_what_eda_lib_start_imports_on_first_use(tmp_path):
    """``eda_lib.start`` names no module in an import statement: the package imports the
    session (and the data pass's tables reader with it) on first use, so the server must
    preload it or every kernel pays those imports."""
    sources = write_notebooks(tmp_path, {"01_a": notebook("A", "import eda_lib\n")})
    names = kernels.preload_modules(sources)
    assert f"eda_lib.{eda_lib._LAZY['start']}" in names
    assert set(kernels.NOTEBOOK_MODULES) <= set(names)


def test_forked_kernel_can_be_interrupted_and_the_pool_kills_what_is_left():
    """SIGINT reaches a forked kernel (its own process group); a kernel nobody shut
    down is killed when the pool closes."""

    async def scenario(pool: kernels.KernelPool) -> tuple[str, int]:
        km = pool.kernel_manager_class()
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            msg_id = kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(120)")
            while True:  # wait until the cell runs, then interrupt it
                msg = await kc.get_iopub_msg(timeout=60)
                if (msg["parent_header"].get("msg_id") == msg_id
                        and msg["msg_type"] == "stream"):
                    break
            for _ in range(12):  # a SIGINT landing just before the sleep is sent again
                await km.interrupt_kernel()
                try:
                    reply = await kc.get_shell_msg(timeout=5)
                except queue.Empty:
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            return reply["content"].get("ename", ""), km.provisioner.pid
        finally:
            kc.stop_channels()

    with kernels.KernelPool() as pool:
        ename, pid = asyncio.run(scenario(pool))
        assert ename == "KeyboardInterrupt"
        assert pool.alive() == [pid]  # never shut down
    assert not alive(pid)
    with pytest.raises(kernels.KernelPoolError, match="closed"):
        pool.fork(["-f", "nowhere.json"], dict(os.environ), ".")


def test_a_dead_server_is_a_clear_error_recorded_as_a_failed_notebook(tmp_path):
    sources = write_notebooks(tmp_path / "notebooks", {"01_first": FIRST})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    runner.prepare_out_dir(cfg)
    with kernels.KernelPool(["json"]) as pool:
        pool.start()
        pool._server.send_signal(signal.SIGKILL)
        pool._server.wait()
        record = runner.run_notebook(sources[0], cfg, reuse=False, kernels=pool)
    assert record.status == "failed"
    assert record.error.startswith("KernelPoolError: the kernel server stopped")
    assert record.html.exists()


def test_a_warm_run_starts_no_kernel_server_and_a_cold_one_starts_it_first(tmp_path, monkeypatch):
    events = []
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables",
                        lambda cfg, progress, use_cache=True: events.append("tables"))
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: {"files": 0})
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)
    monkeypatch.setattr(runner.pages, "write_index", lambda *args: None)
    start = kernels.KernelPool.start

    def spy(pool):
        events.append("server")
        start(pool)

    monkeypatch.setattr(kernels.KernelPool, "start", spy)
    folder = tmp_path / "notebooks"
    write_notebooks(folder, {"01_first": FIRST})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    assert runner.run(cfg, notebooks_dir=folder, progress=False).ok
    assert events == ["server", "tables"]  # the server imports while the pass runs
    events.clear()
    again = runner.run(cfg, notebooks_dir=folder, progress=False)
    assert [r.reused for r in again.records] == [True]
    assert events == ["tables"]


DIES = notebook("Dies", """\
    print("before=the death")
""") + "\n# %%\nimport os\n\nos._exit(1)\n\n# %%\nprint(\"after=never\")\n"


def test_the_notebook_is_saved_once_at_the_end_even_when_its_kernel_dies(tmp_path, monkeypatch):
    """Papermill would save the whole notebook before and after every cell; the runner's
    engine saves it when execution ends, however it ends: a kernel that dies leaves the
    outputs of the cells it ran."""
    saves = []
    original = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb",
                        lambda nb, path: (saves.append(path), original(nb, path)))
    sources = write_notebooks(tmp_path / "notebooks", {"01_dies": DIES, "02_first": FIRST})
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "out"})
    runner.prepare_out_dir(cfg)
    with kernels.KernelPool(kernels.preload_modules(sources)) as pool:
        died = runner.run_notebook(sources[0], cfg, reuse=False, kernels=pool)
        saves.clear()
        fine = runner.run_notebook(sources[1], cfg, reuse=False, kernels=pool)
    assert died.status == "failed" and "DeadKernelError" in died.error
    assert printed(died) == {"before": "the death"}
    assert fine.status == "ok" and printed(fine)["seed"] == "42"
    assert len(saves) == 2  # when execution starts and when it ends, not per cell


class _Channel:
    """A client channel fed from a list: ``get_msg`` returns the next message, or
    raises ``queue.Empty`` when the list holds ``None`` there (a silent channel)."""

    def __init__(self, messages):
        self.messages = list(messages)

    async def get_msg(self, timeout=None):
        message = self.messages.pop(0) if self.messages else None
        if message is None:
            raise queue.Empty
        return message


class _ScriptedClient(kernels.ReadyKernelClient):
    """A ReadyKernelClient whose channels play a script; kernel_info requests are
    numbered ``ki1``, ``ki2``..."""

    def __init__(self, shell, iopub):
        super().__init__()
        self.requests = []
        self._shell, self._iopub = _Channel(shell), _Channel(iopub)

    @property
    def shell_channel(self):
        return self._shell

    @property
    def iopub_channel(self):
        return self._iopub

    def kernel_info(self):
        self.requests.append(f"ki{len(self.requests) + 1}")
        return self.requests[-1]

    async def _async_is_alive(self):
        return True


def _reply(request):
    return {"msg_type": "kernel_info_reply", "parent_header": {"msg_id": request},
            "content": {"protocol_version": "5.3"}}


def _status(request, state):
    return {"msg_type": "status", "parent_header": {"msg_id": request},
            "content": {"execution_state": state}}


def test_the_runner_kernels_use_the_ready_client():
    assert kernels.InterpreterKernelManager().client_factory is kernels.ReadyKernelClient
    assert issubclass(kernels.PooledKernelManager, kernels.InterpreterKernelManager)


def test_ready_once_the_answered_request_is_idle_on_iopub():
    welcome = {"msg_type": "iopub_welcome", "parent_header": {}, "content": {}}
    client = _ScriptedClient(
        shell=[_reply("ki1")],
        iopub=[welcome, _status("ki1", "busy"), _status("other", "idle"),
               _status("ki1", "idle"), _status("later", "busy")])
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["ki1"]
    assert client.iopub_channel.messages == [_status("later", "busy")]  # not drained further


def test_a_silent_iopub_means_not_connected_yet_and_kernel_info_is_asked_again():
    client = _ScriptedClient(shell=[_reply("ki1"), _reply("ki2")],
                             iopub=[None, _status("ki2", "busy"), _status("ki2", "idle")])
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["ki1", "ki2"]


def test_a_kernel_that_never_answers_times_out_with_a_clear_error():
    client = _ScriptedClient(shell=[None] * 3, iopub=[])
    with pytest.raises(RuntimeError, match="didn't respond in 0 seconds"):
        asyncio.run(client.wait_for_ready(timeout=0))
