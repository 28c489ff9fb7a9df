"""``python -m core predict --engine ray`` (issue 14): the local engine's records, on a Ray started for the run and
on a cluster started here with ``ray start --head`` on loopback, through bad files and a killed worker."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import brain_slice, encode
from PIL import Image

from core.cli.batch_ray import CRASH_ENV, LOCAL_RAY_ENV
from core.cli.batch_run import ParquetSink

REPO = Path(__file__).resolve().parents[1]
GOOD = {"t1/a.png": ("PNG", 70, 90), "t1/deep/b.jpg": ("JPEG", 60, 84), "t2/a.png": ("PNG", 64, 48),
        "t2/c.tif": ("TIFF", 50, 40), "d.png": ("PNG", 96, 96), "e.jpg": ("JPEG", 80, 64)}
BROKEN = {"bad/empty.png": b"", "bad/notes.png": b"patient notes, not an image\n",
          "bad/truncated.png": encode(brain_slice(64, 64))[:200]}
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Run:
    """One CLI run: its exit status, standard error, process id and records by path relative to the inputs."""

    returncode: int
    stderr: str
    pid: int
    records: dict[str, dict]


def run_predict(args: list[str], env: dict | None = None) -> tuple[int, str, int]:
    """``python -m core predict ARGS`` from the repository: exit status, standard error and process id."""
    process = subprocess.Popen([sys.executable, "-m", "core", "predict", *args], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate(timeout=600)
    return process.returncode, stderr, process.pid


def by_relative(records: list[dict], inputs: Path) -> dict[str, dict]:
    return {Path(record["file"]).relative_to(inputs).as_posix(): record for record in records}


def assert_same_record(ray: dict, local: dict, relative: str) -> None:
    """The same keys and values, floats within :data:`TOLERANCE`, PNGs with the same name and pixels."""
    assert set(ray) == set(local), relative
    for key, expected in local.items():
        value = ray[key]
        if key in ("mask_file", "heatmap_file") and expected is not None:
            assert Path(value).name == Path(expected).name
            assert np.array_equal(np.asarray(Image.open(value)), np.asarray(Image.open(expected))), (relative, key)
        elif key == "probabilities" and expected is not None:
            assert value.keys() == expected.keys()
            assert all(abs(value[name] - expected[name]) <= TOLERANCE for name in expected), (relative, value)
        elif isinstance(expected, float):
            assert value == pytest.approx(expected, abs=TOLERANCE), (relative, key)
        else:
            assert value == expected, (relative, key)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mixed folder: PNG, JPEG and TIFF slices of several sizes, nested, and three files that are no image."""
    root = tmp_path_factory.mktemp("ray_inputs")
    for seed, (relative, (fmt, height, width)) in enumerate(GOOD.items()):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(encode(brain_slice(height, width, seed), fmt))
    for relative, data in BROKEN.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def runs(inputs: Path, tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The local engine, and Ray with 2 workers of which the first to take a file is killed there."""
    tmp = tmp_path_factory.mktemp("ray_runs")
    results = {}
    for engine, extra, env in (("local", [], None),
                               ("ray", ["--workers", "2"], {**os.environ, CRASH_ENV: str(tmp / "crashed")})):
        out = tmp / f"{engine}.json"
        returncode, stderr, pid = run_predict([str(inputs), "--engine", engine, *extra, "--json", str(out),
                                                   "--masks-dir", str(tmp / f"{engine}_masks"), "--heatmaps-dir",
                                                   str(tmp / f"{engine}_heatmaps"), "--weights", str(tiny_weights)],
                                          env)
        records = json.loads(out.read_text()) if out.exists() else []
        results[engine] = Run(returncode, stderr, pid, by_relative(records, inputs))
        results[f"{engine}_list"] = records
    results["crashed"] = tmp / "crashed"
    return results


def test_ray_engine_writes_the_local_engines_records(runs: dict) -> None:
    local, ray = runs["local"], runs["ray"]
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr[-3000:]
    assert [record["file"] for record in runs["ray_list"]] == [record["file"] for record in runs["local_list"]]
    assert sorted(ray.records) == sorted([*GOOD, *BROKEN])
    for relative, record in local.records.items():
        assert_same_record(ray.records[relative], record, relative)
    assert all(ray.records[relative]["type"] == "glioma" for relative in GOOD)


def test_bad_files_are_error_rows_with_the_local_sentences(runs: dict) -> None:
    for relative in BROKEN:
        error = runs["ray"].records[relative]["error"]
        assert error == runs["local"].records[relative]["error"]
        assert error.startswith(Path(relative).name) and error.endswith(".") and "\n" not in error
        assert runs["ray"].records[relative]["type"] is None and runs["ray"].records[relative]["mask_file"] is None


def test_a_killed_worker_is_restarted_and_its_files_are_redone(runs: dict, inputs: Path) -> None:
    crashed = runs["crashed"]
    assert crashed.exists(), "the test hook never killed a worker"
    killed_on = Path(crashed.read_text()).relative_to(inputs).as_posix()
    assert runs["ray"].returncode == 0
    assert len(runs["ray_list"]) == len(GOOD) + len(BROKEN)  # every file once: none lost, none twice
    assert_same_record(runs["ray"].records[killed_on], runs["local"].records[killed_on], killed_on)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    address: str
    env: dict
    logs: Path


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A Ray cluster of 2 worker CPUs on loopback, with its own token and (short: socket paths) temporary folder."""
    ray = str(Path(sys.executable).with_name("ray"))
    temp_dir = Path(tempfile.mkdtemp(prefix="ray"))
    env = {**os.environ, **LOCAL_RAY_ENV, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = free_port()
    started = subprocess.run([ray, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                              "--num-cpus=2", "--include-dashboard=false", f"--temp-dir={temp_dir}"],
                             env=env, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        yield Cluster(f"127.0.0.1:{port}", env, temp_dir / "session_latest" / "logs")
    finally:
        subprocess.run([ray, "stop"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_address_joins_the_cluster_and_a_manifest_run_resumes(cluster: Cluster, runs: dict, inputs: Path,
                                                              tiny_weights: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n" + "".join(f"{inputs / relative}\n" for relative in [*GOOD, *BROKEN]))
    parts, resumed = tmp_path / "parts", "t2/a.png"
    stopped_run = ParquetSink(parts)  # a stopped run that had finished one file
    stopped_run.append([{"file": str(inputs / resumed), "error": None, "type": "from the stopped run"}])
    stopped_run.flush()
    returncode, stderr, pid = run_predict(["--manifest", str(manifest), "--engine", "ray", "--address",
                                               cluster.address, "--workers", "2", "--parquet", str(parts),
                                               "--weights", str(tiny_weights)], cluster.env)
    assert returncode == 0, stderr[-3000:]
    assert f"Resuming: 1 of {len(GOOD) + len(BROKEN)} files are already in {parts}." in stderr
    assert list(cluster.logs.glob(f"python-core-driver-*_{pid}.log")), "the run did not join the cluster"
    rows = pq.read_table(parts).to_pylist()
    records = by_relative(rows, inputs)
    assert len(rows) == len(records) == len(GOOD) + len(BROKEN)
    assert records.pop(resumed)["type"] == "from the stopped run"
    for relative, record in records.items():
        local = {key: value for key, value in runs["local"].records[relative].items() if not key.endswith("_file")}
        probabilities = record["probabilities"]
        record = {**{key: record[key] for key in local}, "probabilities": probabilities and dict(probabilities)}
        assert_same_record(record, local, relative)


def test_address_refuses_more_workers_than_the_cluster_has(cluster: Cluster, inputs: Path,
                                                           tiny_weights: Path) -> None:
    returncode, stderr, _ = run_predict([str(inputs), "--engine", "ray", "--address", cluster.address,
                                             "--workers", "3", "--weights", str(tiny_weights)], cluster.env)
    assert returncode == 1
    assert stderr.strip().splitlines()[-1] == ("The Ray cluster has 2 CPUs, fewer than the 3 workers asked for; "
                                               "ask for at most 2.")
