"""Several clinicians at once: concurrent app sessions each upload slices and wait for the analysis.

    python -m training.load_test [--sessions 4] [--rounds 2] [--out weights/load_test.json]

Each session is a Streamlit AppTest of ``app.py`` on its own thread, sharing one process and one set of cached
models, as sessions of a real Streamlit server do. A session opens the app, then ``rounds`` times uploads
``files_per_round`` new generated slices (new content, so no cached answer is reused) and waits for the rerun that
analyses them. The latency of a round is the wall time of that rerun (decoding, all models, Grad-CAM, figures).
A session succeeds when no run raised, every round's table lists its files, and no file got an error.
"""

from __future__ import annotations

import argparse
import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image
from streamlit.runtime import Runtime
from streamlit.testing.v1 import AppTest, app_test

from core.cards import WEIGHTS_DIR, WEIGHTS_ENV, write_evaluation
from training.apptest_support import NavigationPagesManager
from training.bench import synthetic_slice
from training.common import add_config_arguments, cli_overrides, config_from_args, run_metadata

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LoadConfig:
    sessions: int = 4
    rounds: int = 2
    files_per_round: int = 1
    image_size: int = 256


@dataclass
class SessionResult:
    """One session's round latencies (seconds) and the problems it met (empty when it succeeded)."""

    latencies_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def make_upload(session: int, round_: int, number: int, size: int) -> tuple[str, bytes]:
    """A PNG of a generated slice whose content differs for every (session, round, file)."""
    pixels = synthetic_slice(size, seed=1000 * session + 10 * round_ + number).pixels
    buffer = io.BytesIO()
    Image.fromarray((pixels * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return f"s{session}_r{round_}_{number}.png", buffer.getvalue()


def run_session(session: int, config: LoadConfig, start: threading.Barrier) -> SessionResult:
    """Open the app, wait until every session has, then upload and analyse ``config.rounds`` batches of new files,
    timing each analysis run. An exception (e.g. a run timing out) ends the session as a problem."""
    result = SessionResult()
    try:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
        result.problems.extend(f"opening: {error.message}" for error in at.exception)
        with suppress(threading.BrokenBarrierError):  # a session that failed to open does not hold up the others
            start.wait(TIMEOUT_S)
        analyse_rounds(at, session, config, result)
    except Exception as err:  # one session's failure is a result to report, not the end of the load test
        start.abort()
        result.problems.append(f"{type(err).__name__}: {err}")
    return result


def analyse_rounds(at: AppTest, session: int, config: LoadConfig, result: SessionResult) -> None:
    for round_ in range(config.rounds):
        files = [make_upload(session, round_, number, config.image_size) for number in range(config.files_per_round)]
        at.file_uploader(key="upload_slices").set_value([(name, data, "image/png") for name, data in files])
        started = time.perf_counter()
        at.run()
        result.latencies_s.append(time.perf_counter() - started)
        result.problems.extend(f"round {round_}: {error.message}" for error in at.exception)
        result.problems.extend(f"round {round_}: {error.value}" for error in at.error)
        listed = list(at.dataframe[0].value["File"]) if len(at.dataframe) else []
        if listed != [name for name, _ in files]:
            result.problems.append(f"round {round_}: the table lists {listed}")


@contextmanager
def _app_environment(weights: Path):
    """Point the app at ``weights``, run it through st.navigation and share one runtime between sessions.

    AppTest installs a mock ``Runtime`` for each run and clears that process-wide slot when the run ends, which
    would pull the runtime from under the scripts of the other sessions still running; here the last runtime
    installed keeps answering, as the one runtime of a real server does.
    """
    last: list[Runtime] = []

    def instance(cls) -> Runtime:
        if cls._instance is not None:
            last[:] = [cls._instance]
        if not last:
            raise RuntimeError("Runtime hasn't been created!")
        return last[-1]

    def exists(cls) -> bool:
        return cls._instance is not None or bool(last)

    with mock.patch.dict(os.environ, {WEIGHTS_ENV: str(weights)}), \
            mock.patch.object(app_test, "PagesManager", NavigationPagesManager), \
            mock.patch.object(Runtime, "instance", classmethod(instance)), \
            mock.patch.object(Runtime, "exists", classmethod(exists)):
        yield


def run_load_test(weights: Path, config: LoadConfig) -> dict:
    """Run ``config.sessions`` sessions at once and summarise success and latency (p50/p95 over all rounds)."""
    started, start = time.perf_counter(), threading.Barrier(config.sessions)
    with _app_environment(weights), ThreadPoolExecutor(max_workers=config.sessions) as pool:
        results = list(pool.map(lambda session: run_session(session, config, start), range(config.sessions)))
    latencies = np.array([latency for result in results for latency in result.latencies_s])
    return {
        "task": "concurrent app sessions (load test)",
        "config": asdict(config),
        "weights_present": sorted(path.name for path in Path(weights).glob("*.keras")),
        "sessions_ok": sum(result.ok for result in results),
        "sessions": config.sessions,
        "problems": [problem for result in results for problem in result.problems],
        "analysis_run_latency_s": {"p50": float(np.percentile(latencies, 50)) if len(latencies) else None,
                                   "p95": float(np.percentile(latencies, 95)) if len(latencies) else None,
                                   "max": float(latencies.max()) if len(latencies) else None,
                                   "count": len(latencies)},
        "wall_time_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "load_test.json")
    add_config_arguments(parser, LoadConfig)
    args = parser.parse_args(argv)
    config = config_from_args(args, LoadConfig())
    summary = run_load_test(args.weights, config)
    summary["run"] = run_metadata(["training.load_test", *cli_overrides(config)], summary["wall_time_s"])
    write_evaluation(summary, args.out)
    latency = summary["analysis_run_latency_s"]
    print(f"{summary['sessions_ok']}/{summary['sessions']} sessions succeeded; analysis run p50 "
          f"{latency['p50']:.2f} s, p95 {latency['p95']:.2f} s over {latency['count']} rounds; wrote {args.out}")
    for problem in summary["problems"]:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
