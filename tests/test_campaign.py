"""The campaign runs pending steps in order, skips finished ones, stops at a failure; trainings never overlap."""

from __future__ import annotations

from itertools import pairwise

import pytest

import training.campaign as campaign
from training.campaign import Step, run_campaign
from training.loop import TrainingBusyError, exclusive_training


@pytest.fixture(autouse=True)
def runs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(campaign, "RUNS_DIR", tmp_path / "runs")


def marker_step(name: str, folder, fail: bool = False) -> Step:
    """A step whose module writes ``folder/name`` (or exits 3), done once that file exists."""
    module = f"step_{name}"
    code = "raise SystemExit(3)" if fail else f"open({str(folder / name)!r}, 'w').write('x')"
    (folder / f"{module}.py").write_text(code + "\n")
    return Step(name, module, lambda: (folder / name).exists())


def test_pending_steps_run_in_order_and_finished_ones_are_skipped(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    steps = (marker_step("first", tmp_path), marker_step("second", tmp_path))
    (tmp_path / "first").write_text("done earlier")
    assert run_campaign(1.0, steps=steps) == ["first: up to date", "second: done"]
    assert run_campaign(1.0, steps=steps) == ["first: up to date", "second: up to date"]
    assert "=== " in (tmp_path / "runs" / "campaign" / "second.log").read_text()
    assert not (tmp_path / "runs" / "campaign" / "first.log").exists()


def test_a_failing_step_stops_the_campaign_and_names_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    steps = (marker_step("broken", tmp_path, fail=True), marker_step("after", tmp_path))
    report = run_campaign(1.0, steps=steps)
    assert len(report) == 1 and report[0].startswith("broken: failed (exit 3)") and "broken.log" in report[0]
    assert not (tmp_path / "after").exists()


def test_dry_run_lists_the_commands_with_the_time_budget(tmp_path):
    steps = (Step("train", "training.train_tumour_net", lambda: False, takes_time_budget=True),)
    (line,) = run_campaign(2.0, dry_run=True, steps=steps)
    assert line.startswith("train: would run -m training.train_tumour_net --time-budget-min 1")


def test_a_second_training_refuses_to_start_while_one_holds_the_lock(tmp_path):
    with exclusive_training(tmp_path), pytest.raises(TrainingBusyError, match="run one training at a time"):
        with exclusive_training(tmp_path):
            pass
    with exclusive_training(tmp_path):  # released once the first one ended
        assert (tmp_path / ".training.lock").read_text().isdigit()


def test_each_training_stage_starts_from_the_network_the_stage_before_wrote():
    from training.train_tumour_net import EARLIER_STAGES, TumourNetConfig

    names = [step.name for step in campaign.STEPS]
    assert names[:6] == ["train_tumour_net_192", "train_tumour_net_224", "train_tumour_net_stage3",
                         "train_tumour_net", "export_litert", "evaluate_tumour_net"]

    def flag(flags: tuple[str, ...], name: str) -> str:
        return next(f.split("=", 1)[1] for f in flags if f.startswith(f"--{name}="))

    stages = list(EARLIER_STAGES.values())
    assert flag(stages[0], "warm-start") == ""
    for before, after in pairwise(stages):
        assert flag(after, "warm-start") == f"{flag(before, 'out')}/tumour_net.keras"
    assert TumourNetConfig().warm_start == f"{flag(stages[-1], 'out')}/tumour_net.keras"
