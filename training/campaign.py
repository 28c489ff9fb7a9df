"""Train and evaluate every shipped model in sequence, one at a time, continuing wherever the last session stopped.

    python -m training.campaign [--hours 2.5] [--dry-run]

Steps: the network's four training stages (192 px with plain pooling; 224 px with the mask-pooled type head, seeded
by the first; a fine-tune of the second at a lower learning rate; a short fine-tune of the third with scanner-like
augmentation, chosen on several collections), its LiteRT export, its evaluation and card, the
out-of-distribution guard fitted on it, the external and whole-study tests, the inference benchmark.

Each step runs as its own process with its own log (``runs/campaign/<step>.log``, appended across sessions). A step
whose output is up to date is skipped, and the training step resumes its run folder from the last finished epoch, so
re-running the same command after a session ended continues the campaign. ``--hours`` is the wall-time budget: the
training step gets what is left and stops before an epoch that would overrun it. Trainings take an exclusive lock on
``runs/`` (two trainings on two cores each get less than half the machine), so a second campaign refuses to start.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, file_sha256
from core.models.litert_network import fresh_export
from training.train_tumour_net import EARLIER_STAGES

ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = ROOT / "runs"


@dataclass(frozen=True)
class Step:
    """One command of the campaign and the test that says its output is already there."""

    name: str
    module: str
    is_done: Callable[[], bool]
    takes_time_budget: bool = False
    args: tuple[str, ...] = ()


def _training_finished(run_dir: Path = RUNS_DIR / "tumour_net", weights: Path = WEIGHTS_DIR) -> bool:
    """The run folder says its schedule ended and its network is in ``weights``."""
    result = run_dir / "result.json"
    return result.exists() and json.loads(result.read_text()).get("finished", False) \
        and (weights / "tumour_net.keras").exists()


def _newer(path: Path, than: Path) -> bool:
    return path.exists() and than.exists() and path.stat().st_mtime >= than.stat().st_mtime


def _guard_fitted(weights: Path = WEIGHTS_DIR) -> bool:
    card, model = weights / "ood.json", weights / "tumour_net.keras"
    return card.exists() and model.exists() and \
        json.loads(card.read_text()).get("model_sha256") == file_sha256(model)


STEPS = (
    *(Step(f"train_{stage}", "training.train_tumour_net",
           lambda stage=stage: _training_finished(RUNS_DIR / stage, RUNS_DIR / stage),
           takes_time_budget=True, args=flags) for stage, flags in EARLIER_STAGES.items()),
    Step("train_tumour_net", "training.train_tumour_net", _training_finished, takes_time_budget=True),
    Step("export_litert", "training.export_litert", lambda: fresh_export(WEIGHTS_DIR, TUMOUR_NET) is not None),
    Step("evaluate_tumour_net", "training.evaluate_tumour_net",
         lambda: _newer(WEIGHTS_DIR / "tumour_net.json", WEIGHTS_DIR / "tumour_net.keras")),
    Step("fit_ood", "training.fit_ood", _guard_fitted),
    Step("evaluate_external", "training.evaluate_external",
         lambda: _newer(WEIGHTS_DIR / "tumour_net_external.json", WEIGHTS_DIR / "ood.json")),
    Step("evaluate_volumes", "training.evaluate_volumes",
         lambda: _newer(WEIGHTS_DIR / "tumour_net_volumes.json", WEIGHTS_DIR / "tumour_net.keras")),
    Step("bench", "benchmarks.bench", lambda: _newer(WEIGHTS_DIR / "benchmarks.json", WEIGHTS_DIR / "tumour_net.json")),
)


def run_campaign(hours: float, dry_run: bool = False, steps: tuple[Step, ...] = STEPS) -> list[str]:
    """Run every step that is not done, in order; returns what happened to each step, one line each."""
    deadline = time.time() + 3600 * hours
    log_dir = RUNS_DIR / "campaign"
    log_dir.mkdir(parents=True, exist_ok=True)
    report = []
    for step in steps:
        if step.is_done():
            report.append(f"{step.name}: up to date")
            continue
        command = [sys.executable, "-m", step.module, *step.args]
        if step.takes_time_budget:
            command += ["--time-budget-min", f"{max(deadline - time.time(), 0) / 60:.1f}"]
        if dry_run:
            report.append(f"{step.name}: would run {' '.join(command[1:])}")
            continue
        with open(log_dir / f"{step.name}.log", "a") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command[1:])}\n")
            log.flush()
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
        if code != 0:
            report.append(f"{step.name}: failed (exit {code}); see {log_dir / (step.name + '.log')}")
            break
        if not step.is_done():
            report.append(f"{step.name}: stopped within the time budget; re-run the campaign to continue")
            break
        report.append(f"{step.name}: done")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=2.5, help="wall-time budget of this session's part")
    parser.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")
    args = parser.parse_args(argv)
    for line in run_campaign(args.hours, args.dry_run):
        print(line)


if __name__ == "__main__":
    main()
