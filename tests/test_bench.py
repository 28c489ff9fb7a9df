"""The benchmark measures every installed model, the full analysis and Grad-CAM, and reports absent models."""

from __future__ import annotations

import pytest

from benchmarks.bench import run_benchmark
from core.models.gradcam import METHODS


def test_benchmark_times_each_model_the_full_slice_and_every_heatmap(tiny_weights):
    result = run_benchmark(tiny_weights, repeats=2)
    assert all(entry["available"] for entry in result["models"].values())
    for entry in result["models"].values():
        assert entry["batch1_latency"]["median_ms"] > 0 and entry["batch32_throughput_per_s"] > 0
    assert result["analyze_latency"]["median_ms"] > 0
    assert result["slice_to_all_results_latency"]["median_ms"] >= result["analyze_latency"]["median_ms"] * 0.5
    assert set(result["gradcam_latency"]) == set(METHODS)
    assert 0 < result["peak_rss_mb"] <= result["peak_rss_all_methods_mb"]
    assert result["study_volume"]["slices"] == 155 and result["study_volume"]["total_s"] > 0
    assert result["study_slider_move"]["median_ms"] > 0
    assert result["cli_report_cold"]["runs"] == 1 and result["cli_report_cold"]["median_s"] > 0
    assert {entry["engine"] for entry in result["models"].values()} == {"Keras"}  # the tiny weights have no export


def test_benchmark_reports_an_absent_network_instead_of_failing(tmp_path):
    result = run_benchmark(tmp_path, repeats=2)
    assert not result["models"]["tumour_net"]["available"]
    assert "train_tumour_net" in result["models"]["tumour_net"]["reason"]
    assert result["analyze_latency"] is None and result["gradcam_latency"] is None and result["study_volume"] is None
    assert result["study_slider_move"] is None and result["cli_report_cold"] is None


def test_training_benchmark_measures_pipeline_synthetic_and_their_ratio():
    from helpers import random_slice_arrays

    from benchmarks.bench_training import measure_tumour_net, profile_variants
    from training.train_tumour_net import TumourNetConfig

    arrays = random_slice_arrays(64, 0)
    config = TumourNetConfig(image_size=32, base_filters=8, depth=2, batch_size=8, warm_start="")
    result = measure_tumour_net(config, arrays, arrays, steps=2)
    assert result["pipeline_images_per_s"] > 0 and result["synthetic_images_per_s"] > 0
    ratio = result["pipeline_images_per_s"] / result["synthetic_images_per_s"]
    assert result["ratio"] == pytest.approx(ratio, abs=2e-3)  # both rates are stored rounded
    assert result["validation_slices"] == 64
    variants = profile_variants(config, arrays, steps=2)
    assert {(v["precision"], v["batch_size"]) for v in variants} == {("float32", 8), ("mixed_bfloat16", 16),
                                                                     ("mixed_bfloat16", 64)}
