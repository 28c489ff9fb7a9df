"""The PACS benchmark against the tests' Orthanc with the tiny network: every step timed, the results stored."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_pacs import STEPS, run_pacs_benchmark
from benchmarks.orthanc import Orthanc


def test_benchmark_times_retrieve_analyse_and_store_of_a_stored_series(orthanc: Orthanc, tiny_weights: Path) -> None:
    result = run_pacs_benchmark(orthanc, tiny_weights, slices=4, size=64, repeats=2)
    assert result["series"] == {"slices": 4, "rows": 64, "columns": 64, "modality": "MR"}
    first, warm = result["first_round_trip_s"], result["warm"]
    assert all(first[step] > 0 and 0 < warm[step]["median_s"] <= warm[step]["max_s"] for step in STEPS)
    assert abs(first["total"] - sum(first[step] for step in STEPS)) < 1e-2
    assert result["tumour_found"] and result["objects_stored"] >= 3  # a SEG, a capture and the report at least
    assert result["meets_target"] == (max(first["total"], warm["total"]["max_s"]) <= result["target_s"])
