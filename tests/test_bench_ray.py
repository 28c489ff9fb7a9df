"""The Ray benchmark (issue 14) measures the local engine and 1 and 2 Ray workers on a Kaggle-like folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CLASS_NAMES, brain_slice, write_image

from benchmarks.bench_ray import pick_slices, run_ray_benchmark

SLICES = 20
"""More than one Ray block (16 files) for 1 worker, so every engine has a steady rate after its first batch."""


@pytest.fixture(scope="module")
def kaggle_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kaggle")
    for index in range(SLICES + 4):
        write_image(root / "Testing" / CLASS_NAMES[index % 4] / f"{index:02d}.jpg", brain_slice(seed=index))
    return root


def test_slices_are_spread_over_the_classes(kaggle_like: Path) -> None:
    files = pick_slices(kaggle_like, 8)
    assert len(files) == len(set(files)) == 8
    assert {Path(file).parent.name for file in files} == set(CLASS_NAMES)


def test_benchmark_measures_each_engine_and_the_targets(kaggle_like: Path, tiny_weights: Path) -> None:
    result = run_ray_benchmark(kaggle_like, tiny_weights, slices=SLICES)
    entries = [result["local"], result["local_one_thread"], result["ray"]["1"], result["ray"]["2"]]
    assert [entry["workers"] for entry in entries] == [None, None, 1, 2]
    assert result["local_one_thread"]["tf_threads"] == 1
    for entry in entries:
        assert entry["slices"] == SLICES and entry["errors"] == 0, entry
        assert entry["slices_per_s"] > 0 and 0 < entry["startup_s"] <= entry["wall_s"], entry
    one, two = result["ray"]["1"]["slices_per_s"], result["ray"]["2"]["slices_per_s"]
    assert result["scaling_2_vs_1_workers"]["value"] == pytest.approx(two / one, rel=0.01)
    assert result["scaling_2_vs_1_workers"]["met"] == (result["scaling_2_vs_1_workers"]["value"] >= 1.6)
    overhead = result["overhead_1_worker_vs_local"]["value"]
    assert overhead == pytest.approx(result["local_one_thread"]["slices_per_s"] / one - 1, abs=0.01)
    assert result["run"]["command"] == f"python -m benchmarks.bench_ray --slices={SLICES}"
