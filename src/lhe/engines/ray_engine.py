"""The Ray engine: a batch's jobs on a pool of Ray actors, one model load per actor.

Ray does the scheduling, placement and restarts; lhe only feeds it. Each actor
(:class:`Worker`) holds one :class:`lhe.engines.Pipeline` and keeps the model it loads in its
process for the whole job. The driver (the ``lhe`` process) reads each job's input bytes
(local paths or URLs), hands them to an idle actor, and writes the encoded bytes that come
back atomically to the output (:func:`lhe.io.write_encoded`): actors need no filesystem or
credentials in common with the driver, and an output is never half written wherever a worker
dies. A job whose actor dies (its process killed, out of memory, its node lost) is retried
once on the restarted actor; a second loss fails that job alone.

Cluster: ``--address`` names one (``HOST:PORT`` of a running head node, or ``ray://HOST:10001``
for Ray Client); without it a running cluster is joined (``RAY_ADDRESS``, or one started on
this machine with ``ray start``), else a local one is started for the job, listening on
127.0.0.1 only. Actors take one CPU each, or with ``--device cuda`` one GPU each (a share with
``--gpus-per-worker``), so Ray places one per GPU; every node needs lhe (the same version)
installed, which each actor checks.

References:
    Moritz, P., et al. (2018). Ray: A Distributed Framework for Emerging AI Applications. OSDI.
"""

from __future__ import annotations

import os
import pickle
import queue
import sys
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Optional

from lhe.errors import InputError, LheError, LheWarning

__all__ = ["RayEngine", "Worker", "WorkerLostError"]

#: Seconds a crashed actor is waited for while Ray restarts it (a model load included).
_RESTART_WAIT = 300.0

#: Where ``ray start`` records the cluster running on this machine (Ray joins it first).
_CURRENT_CLUSTER = "/tmp/ray/ray_current_cluster"


class WorkerLostError(LheError):
    """A job's worker died twice while processing it (killed, out of memory, node lost)."""

    exit_code = 1


class RemoteError(Exception):
    """A worker's exception that could not be sent back as itself: its type name and text."""

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(text)
        self.type_name = type_name


class Worker:
    """One actor: a pipeline, the files it needs, and the models it loads (kept for the job).

    Args:
        pipeline: the work of one job.
        files: keyword → (file name, bytes, card bytes or None) for the driver's files the
            operation names (``--weights``).
        cpus: the CPUs this actor holds (torch and numba threads).
        share: how many actors share this node's memory (the size limit's divisor).
    """

    def __init__(self, pipeline: Any, files: dict, cpus: int, share: int) -> None:
        import tempfile

        from lhe import device

        device.use_threads(cpus)  # as the local engine's share of the cores
        if files:
            folder = tempfile.mkdtemp(prefix="lhe-files-")
            paths = {}
            for keyword, (name, data, card) in files.items():
                path = os.path.join(folder, name)
                with open(path, "wb") as handle:
                    handle.write(data)
                if card is not None:
                    with open(os.path.splitext(path)[0] + ".json", "wb") as handle:
                        handle.write(card)
                paths[keyword] = path
            pipeline = pipeline.with_files(paths)
        self.pipeline = pipeline
        self.limit = pipeline.limit(max(1, share))

    def ready(self) -> tuple[str, int]:
        """lhe's version on this node, and this actor's process id."""
        from lhe import __version__

        return __version__, os.getpid()

    def run(self, names: list[str], datas: list[bytes], output: str) -> tuple:
        """``("ok", bytes, extra, warnings, loads)`` or ``("error", exception, traceback)``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                data, extra = self.pipeline.process(names, datas, output, self.limit)
            except BaseException as exc:  # noqa: BLE001 - every failure goes back to the driver
                return "error", _portable(exc), traceback.format_exc()
        messages = [str(w.message) for w in caught if issubclass(w.category, LheWarning)]
        return "ok", data, extra, messages, _model_loads()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`RemoteError` with its name and text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # an exception type the driver cannot rebuild
        return RemoteError(type(exc).__name__, str(exc))


def _model_loads() -> int:
    """Models and runtimes this process has loaded (the API's caches' misses)."""
    api = sys.modules.get("lhe.api")
    if api is None:
        return 0
    return api._cached_model.cache_info().misses + api._load_runtime.cache_info().misses


class RayEngine:
    """Jobs on Ray actors (see the module's notes).

    Args:
        workers: actors to start (default: one per CPU of the cluster, or per GPU share
            with ``--device cuda``).
        address: the cluster (None: a running one, else a local one; ``local``: always a
            new local one).
        gpus_per_worker: the share of a GPU each actor takes with ``--device cuda``.
    """

    name = "ray"

    def __init__(self, *, workers: Optional[int] = None, address: Optional[str] = None,
                 gpus_per_worker: Optional[float] = None) -> None:
        self.requested, self.address, self.gpus_per_worker = workers, address, gpus_per_worker
        self.started = False  # this engine started the cluster (and stops it)
        self.ray: Any = None
        self.actors: list = []
        self.device = "cpu"
        self.info: dict = {"engine": "ray", "workers": 0, "model_loads": {}}
        self.closing = False
        self._lock = threading.Lock()

    # The cluster ----------------------------------------------------------------------

    def _connect(self) -> Any:
        if self.ray is not None:
            return self.ray
        starts_local = self.address == "local" or (
            self.address is None and not os.environ.get("RAY_ADDRESS") and not os.path.exists(_CURRENT_CLUSTER)
        )
        if starts_local and "ray" not in sys.modules:
            # A cluster for this job alone listens on 127.0.0.1 only (read when ray is imported).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import logging

        import ray

        if not ray.is_initialized():
            options: dict = {"log_to_driver": False, "logging_level": logging.ERROR}
            if starts_local:
                options["include_dashboard"] = False
            import signal

            main = threading.current_thread() is threading.main_thread()
            terminate = signal.getsignal(signal.SIGTERM) if main else None
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                where = f"at {self.address}" if self.address else "(a local one)"
                raise InputError(f"cannot start or reach the Ray cluster {where}: {str(exc).splitlines()[0][:200]}") from None
            finally:
                if main and terminate is not None:
                    signal.signal(signal.SIGTERM, terminate)  # SIGTERM stops a job as Ctrl-C does, on both engines
            self.started = True
        self.ray = ray
        return ray

    def resolve_device(self, device: str) -> str:
        """``auto`` → ``cuda`` when the cluster has GPUs; ``cuda`` needs them."""
        if device not in ("auto", "cpu", "cuda"):
            raise InputError(f"--device must be auto, cpu or cuda with --engine ray, got '{device}'")
        if device == "cpu":
            self.device = "cpu"
            return "cpu"
        gpus = self._connect().cluster_resources().get("GPU", 0)
        if gpus <= 0:
            if device == "cuda":
                raise InputError("--device cuda asked for, but the Ray cluster has no GPU; use --device cpu")
            self.device = "cpu"
            return "cpu"
        self.device = "cuda"
        return "cuda"

    # The actors -----------------------------------------------------------------------

    def start(self, pipeline: Any, jobs: int) -> tuple[Callable[[Any], dict], int]:
        """Start the actor pool; ``(work, threads)`` for :func:`lhe.batch.run_jobs`."""
        ray = self._connect()
        resources = ray.cluster_resources()
        if self.device == "cuda":
            share = self.gpus_per_worker or 1.0
            capacity = int(resources.get("GPU", 0) / share + 1e-9)
            options = {"num_cpus": 1, "num_gpus": share}
        else:
            if self.gpus_per_worker is not None:
                raise InputError("--gpus-per-worker applies to --device cuda; this job runs on CPUs")
            share = 1.0
            capacity = int(resources.get("CPU", 1))
            options = {"num_cpus": 1}
        count = max(1, min(self.requested or max(capacity, 1), jobs))
        per_node = max(1, int(_node_resource(ray, "GPU" if self.device == "cuda" else "CPU") / share + 1e-9))
        files = _ship(pipeline)
        remote = ray.remote(max_restarts=-1, max_task_retries=0, **options)(Worker)
        self.actors = [remote.remote(pipeline, files, 1, min(per_node, count)) for _ in range(count)]
        try:
            ready = ray.get([actor.ready.remote() for actor in self.actors])
        except ray.exceptions.RayError as exc:
            raise InputError(f"the Ray workers could not start: {_first_line(exc)}") from None
        from lhe import __version__

        versions = {version for version, _ in ready}
        if versions != {__version__}:
            raise InputError(f"the Ray workers run lhe {', '.join(sorted(versions))} and this driver {__version__}; install the same lhe on every node")
        self.info.update(workers=count, pids=[pid for _, pid in ready])
        self.overwrite = pipeline.overwrite
        self.live = count
        self.idle: queue.Queue = queue.Queue()
        for index, actor in enumerate(self.actors):
            self.idle.put((index, actor))
        # Two jobs per actor in flight: one processing, the next one's bytes already read.
        return self._work, 2 * count

    def _work(self, job: Any) -> dict:
        """One job: its input bytes to an idle actor, the result back and written."""
        from lhe.io import read_source, write_encoded

        datas = [read_source(name) for name in job.inputs]
        retries = 0
        while True:
            index, actor = self._take()
            began = time.perf_counter()  # the job's time, not its wait for a free worker
            try:
                reply = self.ray.get(actor.run.remote(list(job.inputs), datas, job.output))
            except self.ray.exceptions.RayActorError as exc:
                if self.closing:
                    raise KeyboardInterrupt from None  # the job is being stopped: no retry
                self._return_when_ready(index, actor)  # Ray restarts it; no job goes to it meanwhile
                if retries:
                    raise WorkerLostError(
                        f"{job.label}: its worker died twice while processing it (killed, out of memory, or its node "
                        f"was lost); nothing was written ({_first_line(exc)})"
                    ) from None
                retries += 1
                warnings.warn(f"{job.label}: its worker died while processing it; retrying it once", LheWarning, stacklevel=1)
                continue
            self.idle.put((index, actor))
            break
        if reply[0] == "error":
            _, exc, remote_traceback = reply
            if os.environ.get("LHE_DEBUG"):
                print(remote_traceback, file=sys.stderr)
            raise exc
        _, data, extra, messages, loads = reply
        for message in messages:
            warnings.warn(message, LheWarning, stacklevel=1)
        with self._lock:  # per actor: the most its process has loaded (a restart starts at 0)
            self.info["model_loads"][index] = max(loads, self.info["model_loads"].get(index, 0))
        write_encoded(data, job.output, overwrite=self.overwrite)
        extra = {**extra, "seconds": round(time.perf_counter() - began, 3)}
        return {**extra, "retries": retries} if retries else extra

    def _take(self) -> tuple[int, Any]:
        """An idle actor (waiting for one); WorkerLostError once none is left alive."""
        while True:
            try:
                return self.idle.get(timeout=1.0)
            except queue.Empty:
                if self.closing:
                    raise KeyboardInterrupt from None
                if self.live == 0:
                    raise WorkerLostError("every Ray worker of this job is lost and none restarted; "
                                          "re-run with --skip-existing when the cluster is back") from None

    def _return_when_ready(self, index: int, actor: Any) -> None:
        """Put a crashed actor back once Ray has restarted it; drop it if it cannot be."""
        exceptions = self.ray.exceptions
        died = getattr(exceptions, "ActorDiedError", ())
        deadline = time.monotonic() + _RESTART_WAIT
        while not self.closing:
            try:
                self.ray.get(actor.ready.remote(), timeout=30)
            except died:
                break  # for good: Ray will not restart it
            except (exceptions.RayActorError, exceptions.GetTimeoutError):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
                continue
            self.idle.put((index, actor))
            return
        with self._lock:
            self.live -= 1

    def close(self) -> None:
        """Stop the actors, and the cluster when this engine started it."""
        if self.ray is None:
            return
        self.closing = True
        for actor in self.actors:
            try:
                self.ray.kill(actor)
            except Exception:  # already gone
                pass
        self.actors = []
        if self.started:
            self.ray.shutdown()
            self.started = False
        self.ray = None


def _ship(pipeline: Any) -> dict:
    """The driver's files the pipeline's operation names, with a model card beside them."""
    files = {}
    for keyword in pipeline.files:
        path = pipeline.operation.keywords.get(keyword)
        if path is None or not os.path.isfile(str(path)):
            continue
        card = os.path.splitext(str(path))[0] + ".json"
        with open(path, "rb") as handle:
            data = handle.read()
        card_data = None
        if os.path.isfile(card):
            with open(card, "rb") as handle:
                card_data = handle.read()
        files[keyword] = (os.path.basename(str(path)), data, card_data)
    return files


def _node_resource(ray: Any, name: str) -> float:
    """The most of resource ``name`` one alive node has (actors of a node share its memory)."""
    amounts = [node.get("Resources", {}).get(name, 0) for node in ray.nodes() if node.get("Alive")]
    return max(amounts, default=0) or 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
