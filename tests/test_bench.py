"""The benchmark measures every installed model, the full analysis and Grad-CAM, and reports absent models."""

from __future__ import annotations

from core.gradcam import METHODS
from training.bench import run_benchmark


def test_benchmark_times_each_model_the_full_slice_and_every_heatmap(tiny_weights):
    result = run_benchmark(tiny_weights, repeats=2)
    assert all(entry["available"] for entry in result["models"].values())
    for entry in result["models"].values():
        assert entry["batch1_latency"]["median_ms"] > 0 and entry["batch32_throughput_per_s"] > 0
    assert result["analyze_latency"]["median_ms"] > 0
    assert result["slice_to_all_results_latency"]["median_ms"] >= result["analyze_latency"]["median_ms"] * 0.5
    assert set(result["gradcam_latency"]) == set(METHODS)
    assert result["peak_rss_mb"] > 0


def test_benchmark_reports_an_absent_network_instead_of_failing(tmp_path):
    result = run_benchmark(tmp_path, repeats=2)
    assert not result["models"]["tumour_net"]["available"]
    assert "train_tumour_net" in result["models"]["tumour_net"]["reason"]
    assert result["analyze_latency"] is None and result["gradcam_latency"] is None
