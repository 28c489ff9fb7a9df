"""The Ray engine of ``python -m core predict --engine ray``: archives analysed by a pool of Ray actors.

Each actor loads the models once and turns files into records with :func:`core.cli.batch.file_record`, the local
engine's own function, so both engines write the same objects. Inputs stream through Ray Data in blocks of
:data:`BLOCK_FILES`; an actor reads each file's bytes itself, so an unreadable or missing file becomes an ``error``
record as in the local engine (``ray.data.read_binary_files`` would fail the whole job on the first and silently
drop the second).

Ray Data restarts an actor that dies and runs its block again (its defaults ``max_restarts=-1`` and
``max_task_retries=-1``). A block's records reach the driver only when the whole block is done, so none is written
twice. Ray is imported only inside :func:`ray_session`, which this engine alone calls.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cli.batch import ImageFolders, Source, file_record, limit_threads, load_analysers

BLOCK_FILES = 16
"""Files per Ray Data block: one actor call, the unit of progress, and what is redone when an actor dies."""
CRASH_ENV = "BRAIN_MRI_RAY_CRASH_ONCE"
"""Fault injection for tests: a path that does not exist yet. The first actor to take a file writes that file's name
there and exits abruptly, once, as a worker killed mid-run would."""
LOCAL_RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
"""A Ray started for one run is a single-machine Ray: no usage statistics are sent, it listens on loopback only (on
Linux, Ray turns 127.0.0.1 into this machine's network address unless told it is no cluster), and it accepts only
callers holding the run's token."""


@dataclass(frozen=True)
class RayOptions:
    """Where the actors run.

    ``address``: a running cluster's (``ray start --head`` prints it); None starts a Ray on this machine for the run.
    ``workers``: the number of actors, one CPU each; None gives one per CPU the cluster has.
    """

    address: str | None = None
    workers: int | None = None


@contextmanager
def ray_session(options: RayOptions) -> Iterator[int]:
    """Join the cluster at ``options.address``, or start a Ray on loopback for this run (no dashboard, no usage
    statistics, a fresh authentication token kept in memory); yields the number of workers and shuts Ray down after.

    Raises:
        SystemExit: the cluster cannot be joined, or has fewer CPUs than workers asked for.
    """
    if options.address is None:
        os.environ.update(LOCAL_RAY_ENV)  # before Ray is imported: it reads them once, and its processes inherit them
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    import ray

    _start_or_join(ray, options.address, options.workers)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        workers = options.workers or cpus
        if workers > cpus:
            raise SystemExit(f"The Ray cluster has {cpus} CPUs, fewer than the {workers} workers asked for; "
                             f"ask for at most {cpus}.")
        ray.data.DataContext.get_current().enable_progress_bars = False  # the run's own progress bar counts files
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # not one line per dataset and stage on stderr
        yield workers
    finally:
        ray.shutdown()


def _start_or_join(ray, address: str | None, workers: int | None) -> None:
    # The job ships this package to every worker, so a node imports the same `core` wherever its copy lives.
    common = {"runtime_env": {"py_modules": [str(Path(__file__).parents[1])], "excludes": ["__pycache__/"]},
              "logging_level": logging.WARNING, "log_to_driver": False}
    if address is None:
        ray.init(address="local", num_cpus=max(workers or 0, os.cpu_count() or 1), include_dashboard=False,
                 _node_ip_address="127.0.0.1", **common)
        return
    try:
        ray.init(address=address, **common)
    except (ConnectionError, RuntimeError) as err:  # Ray raises both for an address it cannot reach or join
        raise SystemExit(f"Could not join the Ray cluster at {address} ({str(err).splitlines()[0]}); check the "
                         "address `ray start --head` printed and, for a cluster with a token, RAY_AUTH_MODE=token.") \
            from err


class FileAnalyser:
    """One Ray actor: loads the models once, then turns each block of files into records.

    Records travel back as JSON text, so Arrow never reshapes their nested values and the driver gets back exactly
    the objects :func:`core.cli.batch.file_record` made.
    """

    def __init__(self, folder: str, folders: ImageFolders, cwd: str, crash_marker: str | None = None) -> None:
        limit_threads(1)  # each actor holds one CPU, so N actors on N cores do not fight over them
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative inputs and output folders mean what they meant to the driver
        self.models, self.detector = load_analysers(Path(folder))
        self.folders, self.crash_marker = folders, crash_marker

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = []
        for file, relative in zip(batch["file"], batch["relative"], strict=True):
            self._crash_once(str(file))
            records.append(json.dumps(file_record(str(file), Path(relative), self.models, self.detector,
                                                  self.folders)))
        return {"record": np.array(records, dtype=object)}

    def _crash_once(self, file: str) -> None:
        """The :data:`CRASH_ENV` test hook."""
        if self.crash_marker is None or os.path.exists(self.crash_marker):
            return
        Path(self.crash_marker).write_text(file, encoding="utf-8")
        os._exit(1)


def analyse_on_ray(sources: list[Source], folder: Path, folders: ImageFolders,
                   options: RayOptions) -> Iterator[list[dict]]:
    """The Ray engine: yields each block's records as an actor finishes it, in no fixed order.

    Every node must see the files, ``folder`` (the weights) and ``folders`` at the same paths as this machine (a
    shared file system), or the inputs must be URIs.
    """
    with ray_session(options) as workers:
        import ray  # imported by ray_session, after it has set Ray's environment

        items = [{"file": file, "relative": relative.as_posix()} for file, relative in sources]
        # Blocks of at most BLOCK_FILES, at least one per worker; each block is one actor call (batch_size=None).
        blocks = max(math.ceil(len(items) / BLOCK_FILES), min(workers, len(items)))
        dataset = ray.data.from_items(items, override_num_blocks=blocks)
        analysed = dataset.map_batches(
            FileAnalyser, batch_size=None, batch_format="numpy", num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            fn_constructor_kwargs={"folder": str(Path(folder).resolve()), "folders": folders, "cwd": os.getcwd(),
                                   "crash_marker": os.environ.get(CRASH_ENV)})
        for block in analysed.iter_batches(batch_size=None, batch_format="numpy"):
            yield [json.loads(text) for text in block["record"]]
