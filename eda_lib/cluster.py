"""The data pass's tasks on a Dask cluster (``executor: dask``).

:mod:`eda_lib.datapass` imports this module only when ``cfg.executor`` is ``dask`` (the
one deferred import of the package outside the command line, so that ``distributed``
stays an optional extra: ``pip install eda-lib[dask]``). It knows nothing of cases: it
connects to a cluster (:func:`connect`), checks that every worker sees the folders the
pass reads and writes, prepares every worker as the local pool prepares its processes,
and maps a function over jobs (:meth:`Pool.map`), returning each job's result, or a
:class:`TaskFailed`, in the jobs' order.

Where files live. The client alone reads and writes the per-case cache's tables (the
pass calls :func:`eda_lib.measure.cache.load` and :func:`~eda_lib.measure.cache.save`
before and after the tasks, as locally). A case's display views are written by the worker
that decoded its images, into ``<cache folder>/views/``, so the cache folder, like the
data folder, must be on storage every worker sees at the client's path: :func:`connect`
checks both on every worker before any task runs, and that the worker sees the very files
the client sees (their paths, sizes and modification times) and runs the client's code
(the same sources), and raises :class:`~eda_lib.errors.ClusterError` naming the worker
and the folder when one does not.

Nothing waits for ever: an address where no scheduler answers Dask's handshake (a
dashboard's port) fails after :data:`CONNECT_TIMEOUT` seconds, and a scheduler lost during
the pass (its client closed, or the tasks dropped) stops the pass with a ClusterError.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import dask
from distributed import Client, LocalCluster, as_completed
from distributed.diagnostics.plugin import WorkerPlugin

from . import trace
from .config import Config
from .dataset.index import fingerprint
from .errors import ClusterError
from .tables import code_digest

#: Times a task that raised is tried again before it counts as failed. A worker that dies
#: (killed, out of memory) is not a try: the scheduler gives its tasks to another worker,
#: up to ``distributed.scheduler.allowed-failures`` deaths (3 by default).
RETRIES = 2

#: Tasks in flight per worker thread: one running, one waiting its turn on the worker, so
#: no thread idles between tasks while no worker holds more than two tasks' images.
IN_FLIGHT_PER_THREAD = 2

#: Name under which :class:`WorkerSetup` is registered on the cluster.
PLUGIN_NAME = "eda-lib-worker-setup"

#: Seconds to wait for the scheduler, and for a first worker on a cluster that has none.
CONNECT_TIMEOUT = 30

#: Seconds between two looks for completed tasks (and at the client's connection).
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class TaskFailed:
    """A job that raised on every try, or whose workers kept dying.

    Attributes
    ----------
    error : str
        ``"ErrorName: message"`` of the last try.
    """

    error: str


class WorkerSetup(WorkerPlugin):
    """What the local pool's initializer does, on every Dask worker, including workers
    that join (or are restarted) during the pass: one OpenCV thread per worker thread,
    and the caller's trace setting (:mod:`eda_lib.trace`). Results do not depend on it."""

    def __init__(self, trace_target: str | None):
        self.trace_target = trace_target

    def setup(self, worker: Any) -> None:
        cv2.setNumThreads(1)
        if self.trace_target:
            os.environ[trace.ENV] = self.trace_target
        else:
            os.environ.pop(trace.ENV, None)


def _probe(data_dir: str, names: list[str], data_digest: str, code: str,
           token: str) -> str | None:
    """On a worker: why it cannot run the pass (None when it can). It must run the
    client's code (:func:`eda_lib.tables.code_digest`), list the data folder as the client
    does, with every file of the same path, size and modification time
    (:func:`eda_lib.dataset.index.fingerprint`), and see (and be able to write beside) the
    probe file the client wrote into the views folder of the cache."""
    if code_digest() != code:
        return ("code:it runs other eda_lib code than the client (another version, or "
                "changed files)")
    try:
        seen = sorted(os.listdir(data_dir))
    except OSError as exc:
        return f"data:cannot list it ({exc.strerror or exc})"
    if seen != names:
        return f"data:it holds other files than the client sees ({len(seen)} entries, not {len(names)})"
    if fingerprint(data_dir)["sha256"] != data_digest:
        return ("data:its files differ from the client's (names, sizes or modification "
                "times): another copy of the data")
    views = os.path.dirname(token)
    if not os.path.exists(token):
        return f"cache:{views} is not the client's folder (the client's probe file is not there)"
    if not os.access(views, os.W_OK):
        return f"cache:{views} is not writable"
    return None


@dataclass
class Pool:
    """A connected client: :attr:`threads` worker threads in all, :attr:`description`
    saying what they are (for the report's index)."""

    client: Client
    threads: int
    description: str

    def map(self, fn: Callable[[Any], Any], jobs: Sequence[Any],
            done: Callable[[int], None] | None = None) -> list[Any]:
        """``fn(job)`` of every job, in the jobs' order; a job that failed is a
        :class:`TaskFailed`.

        Jobs are submitted in their order as futures (:meth:`Client.submit`), at most
        :data:`IN_FLIGHT_PER_THREAD` per worker thread at a time, and one more each time
        one completes (:class:`distributed.as_completed`). Futures rather than a bag or
        ``client.map`` of everything: what is in flight stays bounded (each task holds
        its images in a worker's memory, and its result until the client takes it), the
        order of submission keeps the largest jobs first, each task is retried alone
        (``retries``), and on an interrupt exactly the futures in flight are cancelled.
        ``done(i)`` is called as job ``i`` completes (for a progress bar).
        """
        results: list[Any] = [None] * len(jobs)
        token = uuid.uuid4().hex[:8]
        waiting = iter(range(len(jobs)))
        index: dict[Any, int] = {}
        completed = as_completed()

        def submit_next() -> None:
            i = next(waiting, None)
            if i is None:
                return
            future = self.client.submit(fn, jobs[i], key=f"eda-lib-{token}-{i}", retries=RETRIES,
                                        pure=False)
            index[future] = i
            completed.add(future)

        try:
            for _ in range(min(len(jobs), max(1, IN_FLIGHT_PER_THREAD * self.threads))):
                submit_next()
            while index:
                batch = completed.next_batch(block=False)
                if not batch:
                    # a client that lost its scheduler for good completes nothing more
                    if self.client.status not in ("running", "connecting", "newly-created"):
                        raise ClusterError(
                            f"lost the Dask scheduler during the pass (its client is "
                            f"{self.client.status}, {len(index)} task(s) in flight): check the "
                            "cluster and run the pass again")
                    time.sleep(POLL_SECONDS)
                    continue
                for future in batch:
                    if future.status == "cancelled":  # not by the pass: the cluster lost it
                        raise ClusterError(
                            f"the Dask cluster dropped a task of the pass (the scheduler closed "
                            f"or lost it; client {self.client.status}): check the cluster and "
                            "run the pass again")
                    i = index.pop(future)
                    if future.status == "finished":
                        results[i] = future.result()
                        if done is not None:
                            done(i)
                    else:
                        exc = future.exception() if future.status == "error" else None
                        results[i] = TaskFailed(f"{type(exc).__name__}: {exc}"
                                                if exc is not None else f"task {future.status}")
                    future.release()
                    submit_next()
        except BaseException:
            # an interrupt (or a lost client): nothing of this map may keep running
            try:
                self.client.cancel(list(index), force=True)
            except Exception:  # a lost client cancels nothing; its tasks end with it
                pass
            raise
        return results


@contextmanager
def connect(cfg: Config, workers: int,
            environment: Mapping[str, str] | None = None) -> Iterator[Pool]:
    """A :class:`Pool` on ``cfg.dask_scheduler``, or on a ``LocalCluster`` of ``workers``
    processes (one thread each) started for the pass and closed after it.

    ``environment`` is set in the local cluster's worker processes before they start
    (each variable unless the caller set it), as for the local pool; the workers of a
    running cluster keep theirs. Every worker gets :class:`WorkerSetup`.

    Raises
    ------
    ClusterError
        When the scheduler cannot be reached or has no worker, or a worker does not see
        ``cfg.data_dir`` or the cache folder at the client's path.
    """
    cluster = None
    saved = dict(os.environ)
    try:
        if cfg.dask_scheduler:
            client = _client(cfg.dask_scheduler)
        else:
            wanted = {k: str(v) for k, v in
                      dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()}
            wanted.update({k: os.environ.get(k, v) for k, v in (environment or {}).items()})
            with dask.config.set({"distributed.nanny.pre-spawn-environ": wanted}):
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
        try:
            if not client.nthreads():
                _wait_for_workers(client, cfg.dask_scheduler)
            check_workers(client, cfg)
            client.register_plugin(WorkerSetup(os.environ.get(trace.ENV)), name=PLUGIN_NAME)
            nthreads = client.nthreads()
            n, threads = len(nthreads), sum(nthreads.values())
            if cluster is not None:
                what = f"dask, {n} worker{'s' * (n != 1)} (LocalCluster)"
            else:
                what = f"dask, {n} worker{'s' * (n != 1)} ({threads} threads) at {cfg.dask_scheduler}"
            yield Pool(client, threads, what)
        finally:
            if cluster is None:
                try:
                    client.unregister_worker_plugin(PLUGIN_NAME)
                except Exception:  # the plugin is gone with its cluster, or never came
                    pass
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
        # a nanny sets its workers' variables in this process too (as it starts each one)
        for name in set(os.environ) - set(saved):
            os.environ.pop(name, None)
        os.environ.update(saved)


def _client(address: str) -> Client:
    """A client of the scheduler at ``address``, within :data:`CONNECT_TIMEOUT` seconds.

    The client is made in a thread of its own: at an address where something else
    listens (a dashboard, a web server) the handshake never ends, and ``Client``'s own
    timeout does not cover it.
    """
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = Client(address, timeout=CONNECT_TIMEOUT)
        except BaseException as exc:  # handed to the caller's thread
            made["error"] = exc

    thread = threading.Thread(target=make, name="eda-lib-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 5)
    exc = made.get("error")
    if "client" in made:
        return made["client"]
    why = (f"{type(exc).__name__}: {exc}" if exc is not None else
           f"no Dask handshake within {CONNECT_TIMEOUT + 5} s: is it a scheduler's address, "
           "not its dashboard's?")
    if exc is not None and not isinstance(exc, OSError | TimeoutError):
        raise exc
    raise ClusterError(
        f"cannot reach the Dask scheduler at {address} ({why}): start it (`dask scheduler`) "
        "or fix dask_scheduler; leave dask_scheduler empty to start a local cluster"
    ) from exc


def _wait_for_workers(client: Client, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"the Dask scheduler at {address} has no worker after {CONNECT_TIMEOUT} s: start "
            "workers (`dask worker " + address + "`) and run again") from exc


def check_workers(client: Client, cfg: Config) -> None:
    """Check on every worker that it sees ``cfg.data_dir`` as the client does and can
    write the cache's views folder the client sees.

    Raises
    ------
    ClusterError
        Naming the first worker (by address) that does not, and the folder.
    """
    views = Path(cfg.cache_path) / "views"
    views.mkdir(parents=True, exist_ok=True)
    token = views / f".eda-lib-probe-{uuid.uuid4().hex}"
    token.write_bytes(b"")
    try:
        answers = client.run(_probe, str(cfg.data_dir), sorted(os.listdir(cfg.data_dir)),
                             fingerprint(cfg.data_dir)["sha256"], code_digest(), str(token))
    finally:
        token.unlink(missing_ok=True)
    for worker, problem in sorted(answers.items()):
        if problem is None:
            continue
        which, _, why = problem.partition(":")
        if which == "code":
            raise ClusterError(
                f"Dask worker {worker} cannot measure as the client does: {why}. Install the "
                "client's eda_lib on every worker (the same version, unchanged) and start the "
                "workers again; see docs/scaling.md", worker=worker, path=cfg.data_dir)
        if which == "data":
            raise ClusterError(
                f"Dask worker {worker} does not see the data folder {cfg.data_dir} as the client "
                f"does: {why}. Every worker must see data_dir at the same path (a shared file "
                "system mounted alike); see docs/scaling.md", worker=worker, path=cfg.data_dir)
        raise ClusterError(
            f"Dask worker {worker} cannot write the cache folder {cfg.cache_path}: {why}. "
            "Workers write each case's display views there, so cache_dir must be on storage "
            "every worker sees at the same path; see docs/scaling.md",
            worker=worker, path=cfg.cache_path)
