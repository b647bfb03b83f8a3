"""Kernels for the runner: this interpreter, started warm, one clean kernel per notebook.

A cold IPython kernel costs about two seconds of CPU before a notebook's first cell has
done anything: the interpreter starts, ipykernel imports IPython, zmq and tornado, and
the notebook's first cell imports pandas, matplotlib and :mod:`eda_lib`. Eleven notebooks
pay that eleven times, on a machine with two cores.

:class:`KernelPool` pays it once. It starts a *kernel server*: a process of this
interpreter (``python -m eda_lib.report.kernels``) that imports ipykernel and every module
the notebooks import (:func:`preload_modules`), then waits. Each kernel the pool hands
out is a process ``fork``-ed from that server, so it starts with those modules already
in memory (shared with the server, copy-on-write) and is ready in a fraction of a
second; the runner starts the server before the data pass, so the imports overlap it.

Each forked kernel runs exactly one notebook and is then shut down: a notebook still
runs in a fresh process, with a fresh IPython namespace, whatever the notebook before it
did. The server itself never runs notebook code. What a fork inherits from the server
is the state of freshly imported modules; what differs from a cold kernel is reset in
the child (:func:`_become_kernel`): its own session and process group (for interrupts),
the environment and working folder the kernel manager asked for, default signal
handlers, and fresh seeds for :mod:`random` and numpy's global generator.

On the kernel manager's side nothing changes but the launch: :class:`PooledKernelManager`
is an :class:`InterpreterKernelManager` whose provisioner (:class:`ForkingProvisioner`)
asks the server for a process instead of running the kernel command. The connection
file, encryption keys, messaging, interrupts (to the kernel's process group) and
shutdown are jupyter_client's own, so papermill's parameter injection and error
handling work as with any kernel. A kernel whose command is not this interpreter's
ipykernel is started the ordinary way.

Transport: a pooled kernel talks to the runner over Unix sockets (ZeroMQ's ``ipc``) in
a folder of the pool's own, one name per kernel (:meth:`KernelPool.socket_prefix`), not
over TCP. With TCP the client picks five free ports, closes them, and the kernel binds
them a moment later; in between, any socket of the machine may be given one of them,
the runner's own connections to the kernels started just before included. With four
kernels starting together, one kernel in about four hundred here could not bind its
heartbeat port ("Address already in use"); on its shell or IOPub port that kills the
kernel, and its notebook fails. A socket file in a private folder cannot be taken.
Where the temporary folder's path is too long for a socket's (about 100 bytes), kernels
keep TCP.

Processes: the server is a child of the runner and leaves when the pool closes, or when
the runner goes away (it reads requests from a pipe, and stops at its end); forked
kernels watch the server (ipykernel's parent poller), so they stop if it goes away, and
the pool kills any kernel still alive when it closes. The server waits for each kernel
that ends, so the kernels' CPU time and peak memory count in the runner's children.

Why forking rather than kernels started ahead of need: a kernel started ahead still
pays its two seconds of CPU, and on two cores busy with notebooks CPU is what the
notebook phase is short of. A forked kernel costs about 0.05 s of CPU to initialise;
what is left of its start and end is waiting on messages: jupyter_client's own client
and manager add a fixed 0.2 s before the first cell (IOPub drained until silent) and up
to 0.1 s after the last (the end of the kernel checked every tenth of a second), which
:class:`ReadyKernelClient` and :class:`InterpreterKernelManager` cut to what the kernel
takes; the rest the runner hides by running more notebooks than cores
(:data:`eda_lib.report.runner.KERNELS_PER_WORKER`). Where ``os.fork`` is missing
(:data:`FORK_AVAILABLE`), the runner starts kernels the ordinary way.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from queue import Empty
from typing import Any

import numpy as np
import zmq
from ipykernel.kernelapp import IPKernelApp
from ipykernel.kernelspec import get_kernel_dict
from jupyter_client import AsyncKernelClient, AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.provisioning import LocalProvisioner
from traitlets import default

from ..errors import EdaError
from .records import RUNNER_ENV

#: Kernel name recorded in executed notebooks; the name IPython kernels go by, so an
#: executed notebook opens anywhere. It is never looked up: see InterpreterKernelManager.
KERNEL_NAME = "python3"

#: Modules every kernel imports, whatever the notebooks import: ipykernel's own start-up
#: (what a kernel imports while it initialises, measured with ipykernel 7).
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger",
                  "matplotlib_inline.backend_inline", "sqlite3", "pdb", "psutil")

#: Modules every notebook of the suite uses that no import statement of it names: its
#: first cell calls ``eda_lib.start``, which the package imports on first use (see
#: ``eda_lib._LAZY``) with the data pass's module and the tables' reader (half a second
#: of imports in each kernel otherwise), and pandas imports pyarrow's Parquet reader
#: when that first reads the tables.
NOTEBOOK_MODULES = ("eda_lib.report.session", "pyarrow.parquet", "pyarrow.dataset")

#: The module ``python -m`` runs for an IPython kernel (see :func:`ipykernel.kernelspec`).
_LAUNCHER = "ipykernel_launcher"

#: Seconds the pool waits for the server to stop when it closes, before killing it.
_STOP_SECONDS = 5.0

#: Longest path of a Unix socket (bytes) used here: Linux allows 107.
_SOCKET_PATH_MAX = 100


class KernelPoolError(EdaError):
    """The kernel server could not start or fork a kernel."""


def interpreter_kernel_spec() -> KernelSpec:
    """Spec of an IPython kernel started with :data:`sys.executable`, built in memory.

    Its environment tells the notebook it runs under the runner
    (:data:`~eda_lib.report.records.RUNNER_ENV`), so it reads the stored tables and
    never measures.
    """
    return KernelSpec(name=KERNEL_NAME, env={RUNNER_ENV: "1"}, **get_kernel_dict())


#: Seconds between two checks that a kernel asked to shut down has ended.
SHUTDOWN_POLL = 0.01

#: Seconds of IOPub silence after which :class:`ReadyKernelClient` takes IOPub for not
#: yet connected (jupyter_client's own wait).
IOPUB_WAIT = 0.2


class ReadyKernelClient(AsyncKernelClient):
    """The kernel client of the runner's kernels: ready as soon as the kernel is.

    jupyter_client's client asks for ``kernel_info`` until the reply comes and IOPub
    is connected, then drains IOPub until it has been silent for 0.2 s: a fixed fifth
    of a second per notebook, more than a trivial notebook's cells take. This client
    drains IOPub only until the kernel's ``idle`` status for the ``kernel_info``
    request that was answered: every message about that request has then arrived.
    When IOPub was not yet connected as the kernel answered (no ``idle`` within
    :data:`IOPUB_WAIT` s), it asks again, as jupyter_client does.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """Wait until the kernel answers ``kernel_info`` and its IOPub reaches us.

        Raises
        ------
        RuntimeError
            When the kernel dies or does not answer within ``timeout`` seconds, with
            jupyter_client's messages.
        """
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            request = self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if (reply is not None and reply["msg_type"] == "kernel_info_reply"
                    and await self._iopub_idle_after(request)):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _iopub_idle_after(self, request: str) -> bool:
        """Read IOPub up to the ``idle`` status of ``request``; False when IOPub falls
        silent for :data:`IOPUB_WAIT` s first."""
        while True:
            try:
                msg = await self.iopub_channel.get_msg(timeout=IOPUB_WAIT)
            except Empty:
                return False
            if (msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == request
                    and msg["content"].get("execution_state") == "idle"):
                return True


class InterpreterKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is always this interpreter.

    A kernel name is normally looked up in JUPYTER_PATH, the user's data folder and
    the environment, in an order that lets a user-level ``python3`` kernelspec (another
    Python, maybe without eda_lib) win. This manager skips the lookup: its spec is built
    in memory from :func:`ipykernel.kernelspec.get_kernel_dict`, whose command starts
    :data:`sys.executable`. Nothing is installed or registered anywhere.

    Transport encryption (CurveZMQ) is on when pyzmq supports it, which also keeps the
    kernel's "running over TCP without encryption" warning off the console.
    """

    @default("client_class")
    def _ready_client_name(self) -> str:
        return f"{__name__}.ReadyKernelClient"

    @default("client_factory")
    def _ready_client(self) -> type:
        return ReadyKernelClient

    @default("transport_encryption")
    def _encrypt_when_possible(self) -> str:
        return "auto" if zmq.has("curve") else "disabled"

    @property
    def kernel_spec(self) -> KernelSpec:
        """The spec of :func:`interpreter_kernel_spec`, whatever the kernel name."""
        if self._kernel_spec is None:
            self._kernel_spec = interpreter_kernel_spec()
        return self._kernel_spec

    async def _async_finish_shutdown(self, waittime: float | None = None,
                                     pollinterval: float = 0.1, restart: bool = False) -> None:
        """Wait for the kernel to end after its shutdown request, checking every
        :data:`SHUTDOWN_POLL` s rather than jupyter_client's 0.1 s: a kernel that has run
        its notebook ends within milliseconds, and the tenth of a second lost per
        notebook was a tenth of a trivial notebook's time."""
        await super()._async_finish_shutdown(waittime, min(pollinterval, SHUTDOWN_POLL), restart)

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt the kernel, except as part of shutting it down.

        jupyter_client interrupts a kernel before asking it to shut down. After a
        notebook run the kernel is idle, so there is nothing to stop, and a SIGINT that
        lands while the kernel handles a message is logged on the console as an error
        ("KeyboardInterrupt caught in kernel"). A kernel that ignores the shutdown
        request is still killed after ``shutdown_wait_time``.
        """
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


# --------------------------------------------------------------------------- runner side


def preload_modules(sources: Iterable[Path]) -> tuple[str, ...]:
    """What the kernel server imports: ipykernel's start-up and the notebooks' imports.

    Parameters
    ----------
    sources : iterable of Path
        The ``.py`` (jupytext) notebooks the kernels will run.

    Returns
    -------
    tuple of str
        :data:`KERNEL_MODULES` and :data:`NOTEBOOK_MODULES`, then every module a
        top-level ``import`` statement of a code cell names (absolute imports only), in
        order of first appearance. A cell that is not valid Python is skipped; a module
        that fails to import is skipped by the server (the notebook then meets the error
        itself).
    """
    import jupytext  # here, not at the top: the kernel server runs this module and
    #                  needs none of jupytext's (and nbformat's) quarter second of imports

    names = [*KERNEL_MODULES, *NOTEBOOK_MODULES]
    for source in sources:
        for cell in jupytext.read(source).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # magics, or a cell broken on purpose
                continue
            for node in tree.body:
                if isinstance(node, ast.Import):
                    names += [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.append(node.module)
                    names += [f"{node.module}.{alias.name}" for alias in node.names]
    return tuple(dict.fromkeys(names))


class ForkedProcess:
    """A kernel forked by the kernel server, seen through the part of the
    :class:`subprocess.Popen` interface that jupyter_client uses.

    The process is the server's child, not ours: the server reaps it when it ends, so
    its exit status is not known here (:meth:`poll` gives 0 once it is gone).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while the process runs, 0 once it has ended."""
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0
            except PermissionError:  # the pid was reused by another user's process
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the process has ended (at most ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.02)
        return 0

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the process (not an error once it has ended)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class KernelPool:
    """Warm kernels for one run: a kernel server, and a fresh forked kernel per notebook.

    Use it as a context manager; :meth:`start` starts the server early (its imports
    then overlap whatever the caller does next), otherwise the first kernel launched
    by a manager of :attr:`kernel_manager_class` starts it. :meth:`close` stops the
    server, kills any kernel it forked that is still alive and removes the folder of
    the kernels' sockets.

    Parameters
    ----------
    preload : sequence of str
        Modules the server imports before forking (see :func:`preload_modules`).

    Notes
    -----
    Thread safe: the runner's worker threads launch kernels side by side. Linux only
    (forking a process that has loaded the scientific stack is not safe on macOS, and
    Windows cannot fork): elsewhere :data:`FORK_AVAILABLE` is false and the runner
    starts kernels the ordinary way.
    """

    def __init__(self, preload: Sequence[str] = KERNEL_MODULES) -> None:
        self.preload = tuple(preload)
        self._server: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._forked: list[ForkedProcess] = []
        self._closed = False
        self._manager_class: type[PooledKernelManager] | None = None
        self._sockets: Path | None = None
        self._named = 0

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        """Whether the kernel server has been started."""
        return self._server is not None

    def start(self) -> None:
        """Start the kernel server, if it is not running yet; do not wait for it."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._closed:
            raise KernelPoolError("the kernel pool is closed: no kernel can be started")
        if self._server is not None:
            return
        package_root = Path(__file__).resolve().parents[2]
        self._server = subprocess.Popen(
            [sys.executable, "-m", __name__, *self.preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=package_root,
            env={**os.environ, RUNNER_ENV: "1"}, text=True, bufsize=1)

    def socket_prefix(self) -> str | None:
        """Where the next kernel's sockets go: ``<folder>/k<i>-<n>`` for its five
        channels, ``i`` counting the kernels, in a folder made for this pool (readable by
        its user only) in the temporary folder and removed when the pool closes. None
        when that path would be too long for a Unix socket's (:data:`_SOCKET_PATH_MAX`):
        the kernel then uses TCP."""
        with self._lock:
            if self._closed:
                raise KernelPoolError("the kernel pool is closed: no kernel can be started")
            if self._sockets is None:
                self._sockets = Path(tempfile.mkdtemp(prefix="eda-kernels-"))
            self._named += 1
            prefix = str(self._sockets / f"k{self._named}")
            # the channels' sockets are named prefix-1 to prefix-5
            return prefix if len(os.fsencode(prefix)) + 2 <= _SOCKET_PATH_MAX else None

    @property
    def kernel_manager_class(self) -> type[PooledKernelManager]:
        """A :class:`PooledKernelManager` class bound to this pool, for papermill's
        ``kernel_manager_class``: nbclient makes one manager per notebook from it, and
        shuts its kernel down when the notebook is done, as with any kernel manager."""
        if self._manager_class is None:
            self._manager_class = type("PooledKernelManager", (PooledKernelManager,),
                                       {"pool": self, "__module__": __name__})
        return self._manager_class

    def fork(self, argv: Sequence[str], env: dict[str, str], cwd: str | Path) -> ForkedProcess:
        """Fork a kernel from the server: ``argv`` are the kernel's arguments (what
        follows ``-m ipykernel_launcher``), ``env`` its whole environment, ``cwd`` its
        working folder.

        Raises
        ------
        KernelPoolError
            If the server has stopped or could not fork.
        """
        request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)})
        with self._lock:
            self._start()
            assert self._server is not None and self._server.stdin and self._server.stdout
            try:
                self._server.stdin.write(request + "\n")
                self._server.stdin.flush()
                reply = self._server.stdout.readline()
            except OSError as exc:
                raise KernelPoolError(f"the kernel server stopped: {exc}") from exc
            if not reply:
                raise KernelPoolError(
                    "the kernel server stopped before it forked a kernel (exit status "
                    f"{self._server.poll()}); its error, if any, is printed above")
            answer = json.loads(reply)
            if "error" in answer:
                raise KernelPoolError(f"the kernel server could not fork a kernel: "
                                      f"{answer['error']}")
            process = ForkedProcess(int(answer["pid"]))
            self._forked.append(process)
            return process

    def alive(self) -> list[int]:
        """Pids of the kernels forked by this pool that are still running."""
        with self._lock:
            return [p.pid for p in self._forked if p.poll() is None]

    def close(self) -> None:
        """Stop the server (its pipe closes, it leaves) and kill the kernels still alive.

        Kernels are normally shut down by their managers before; this is for a run
        interrupted half way. Safe to call twice.
        """
        with self._lock:
            self._closed = True
            for process in self._forked:
                process.kill()
            server, self._server = self._server, None
            sockets, self._sockets = self._sockets, None
        if sockets is not None:
            shutil.rmtree(sockets, ignore_errors=True)
        if server is None:
            return
        with contextlib.suppress(OSError):
            server.stdin.close()
        try:
            server.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:  # still importing: it reads its pipe only after
            server.kill()
            server.wait()
        server.stdout.close()


class ForkingProvisioner(LocalProvisioner):
    """The local provisioner, with kernels forked by a :class:`KernelPool`.

    Everything but the launch is :class:`~jupyter_client.provisioning.LocalProvisioner`'s:
    the connection file and keys it writes, and its signals, which go to the kernel's
    process group (the forked kernel leads its own session, as a launched one does).
    """

    pool: KernelPool | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        """Fork the kernel when ``cmd`` runs this interpreter's ipykernel, else launch it."""
        if self.pool is None or cmd[:3] != [sys.executable, "-m", _LAUNCHER]:
            return await super().launch_kernel(cmd, **kwargs)
        cwd = kwargs.get("cwd") or os.getcwd()
        env = dict(kwargs.get("env") or os.environ)
        self.process = self.pool.fork(cmd[3:], env, cwd)
        self.pid = self.pgid = self.process.pid
        self.cwd = cwd
        return self.connection_info


class PooledKernelManager(InterpreterKernelManager):
    """An :class:`InterpreterKernelManager` whose kernel is forked from :attr:`pool`,
    and reached over Unix sockets in the pool's folder (:meth:`KernelPool.socket_prefix`).

    Subclasses made by :attr:`KernelPool.kernel_manager_class` set :attr:`pool`; with
    none set, kernels are launched the ordinary way, over TCP.
    """

    pool: KernelPool | None = None

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or _new_id()
            prefix = self.pool.socket_prefix() if self.pool is not None else None
            if prefix is not None:
                self.transport, self.ip = "ipc", prefix
            provisioner = ForkingProvisioner(kernel_id=self.kernel_id,
                                             kernel_spec=self.kernel_spec, parent=self)
            provisioner.pool = self.pool
            self.provisioner = provisioner
        return await super()._async_pre_start_kernel(**kw)


def _new_id() -> str:
    return os.urandom(16).hex()


#: Whether kernels can be forked here (see :class:`KernelPool`).
FORK_AVAILABLE = sys.platform.startswith("linux")


# --------------------------------------------------------------------------- server side


def serve(preload: Sequence[str]) -> int:
    """The kernel server: import ``preload``, then fork one kernel per request.

    Requests are JSON lines on stdin (``{"argv": [...], "env": {...}, "cwd": "..."}``);
    each gets a JSON line on stdout, ``{"pid": N}`` or ``{"error": "..."}``. The server
    stops at the end of its input. It ignores SIGINT (a Ctrl-C in the terminal is the
    runner's to handle) and waits for each kernel as it ends (:func:`_reap`).
    """
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # kernels read nothing from the runner's pipe ...
    os.dup2(2, 1)        # ... and print where the runner prints its errors
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, _reap)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # debugpy (ipykernel.debugger) warns on import about frozen modules, on the runner's
    # console; a kernel importing it itself prints that into its own captured stderr
    quiet = "PYDEVD_DISABLE_FILE_VALIDATION" not in os.environ
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for name in preload:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    if quiet:
        del os.environ["PYDEVD_DISABLE_FILE_VALIDATION"]
    for line in requests:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as exc:
            replies.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            replies.flush()
            continue
        if pid == 0:
            requests.close()
            replies.close()
            _become_kernel(request["argv"], request["env"], request["cwd"])  # never returns
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
    return 0


def _reap(signum: int, frame: object) -> None:
    """Wait for every ended kernel: no zombie is left, and the kernels' CPU time counts
    in the server's children (so in the runner's, once the server is waited for)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _become_kernel(argv: list[str], env: dict[str, str], cwd: str) -> None:
    """In a forked child: turn into the kernel a launch of ``argv`` would have started."""
    status = 1
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        server = str(os.getppid())
        os.environ["JPY_PARENT_PID"] = server  # stop if the server goes away; the trait's
        argv = [*argv, f"--IPKernelApp.parent_handle={server}"]  # default was read at import
        if sys.path and sys.path[0] in ("", str(Path(__file__).resolve().parents[2])):
            del sys.path[0]  # as ipykernel_launcher does; IPython puts "" back
        sys.argv = [_LAUNCHER, *argv]
        random.seed()
        np.random.seed()
        IPKernelApp.launch_instance(argv=argv)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 0
    except BaseException:  # report it, and never return into the serving loop
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
