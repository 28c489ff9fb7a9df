"""A real ``streamlit run app.py`` server on a free loopback port, and Debian's chromium to drive it: shared by the
browser tests and the browser load test (:mod:`benchmarks.load_test`). Playwright itself is imported by the callers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STARTUP_S = 60
VIEWPORT = {"width": 1440, "height": 900}


class ServerError(RuntimeError):
    """A server exited or did not answer in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_answering(name: str, process: subprocess.Popen, log: Path, answers: Callable[[], bool],
                         timeout_s: float = STARTUP_S) -> None:
    """Poll ``answers`` (False or an OSError while the server starts) until it is True.

    Raises:
        ServerError: the process exited, or ``timeout_s`` passed first.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if answers():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise ServerError(f"{name} did not answer within {timeout_s} s:\n{log.read_text()}")


@dataclass(frozen=True)
class StreamlitServer:
    url: str
    process: subprocess.Popen
    started_at: float
    """``time.perf_counter()`` just before the process was started."""
    answered_at: float
    """``time.perf_counter()`` when its health endpoint first answered "ok"."""


@contextmanager
def streamlit_process(env: Mapping[str, str], log: Path, *options: str, port: int | None = None
                      ) -> Iterator[StreamlitServer]:
    """``streamlit run app.py`` from the repository (so its ``.streamlit/config.toml`` applies) with ``options``,
    once its health endpoint answers; stopped afterwards."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("streamlit")), "run", "app.py", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", *options]

    def healthy() -> bool:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"

    started = time.perf_counter()
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=REPO, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_answering("streamlit", process, log, healthy)
        yield StreamlitServer(url, process, started, time.perf_counter())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_bytes(process: subprocess.Popen) -> int | None:
    """The most resident memory the (still running) process has held so far (Linux ``VmHWM``); None elsewhere."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kib is None else int(kib) * 1024


def cpu_seconds(process: subprocess.Popen) -> float | None:
    """User + system CPU time the (still running) process has used so far (Linux ``/proc``); None elsewhere."""
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float | None:
    """CPU time every core of the machine has spent not idle since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
