"""Load: several app sessions analysing uploads at the same time all succeed (timing is reported, not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.load_test import LoadConfig, run_load_test


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # a crashed script thread fails
def test_four_concurrent_sessions_all_analyse_their_uploads(tiny_weights: Path) -> None:
    summary = run_load_test(tiny_weights, LoadConfig(sessions=4, rounds=2, image_size=160))
    assert summary["problems"] == []
    assert summary["sessions_ok"] == summary["sessions"] == 4
    latency = summary["analysis_run_latency_s"]
    assert latency["count"] == 8
    assert 0 < latency["p50"] <= latency["p95"] <= latency["max"]
    print(f"analysis run latency with 4 sessions: p50 {latency['p50']:.2f} s, p95 {latency['p95']:.2f} s")
