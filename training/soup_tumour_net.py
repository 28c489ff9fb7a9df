"""Greedy weight soup of fine-tuned tumour networks: the element-wise mean of the runs that helps on validation.

    python -m training.soup_tumour_net RUN_DIR [RUN_DIR ...] [--run-dir R] [--out R]   # R: runs/tumour_net_soup
    python -m training.evaluate_tumour_net --weights=R/tumour_net.keras --run-dir=R --out=R   # card, thresholds, tests
    python -m training.fit_ood --weights=R                                                    # the guard refitted on it

Fine-tuned runs that start from one network sit in one basin of the loss, so the mean of their weights is a network
too, and often one that generalises better than any of them ("Model soups", Wortsman et al., ICML 2022). The greedy
recipe: rank the runs' best networks (``RUN_DIR/tumour_net.keras``) by the training monitor, start the soup with the
first and add each next one only if the mean with it scores at least as well on the same several-source validation
(:func:`training.train_tumour_net.make_validator`). Batch-normalisation statistics are averaged like every other
weight, as in the paper. No test slice is read. ``RUN_DIR/result.json`` gives each run's config; the best (the lead)
lends the soup its config and training history, and the summary's ``soup`` section (copied into the card by
:mod:`training.evaluate_tumour_net`) lists every ingredient. Like a training, the soup writes ``--out/tumour_net.keras``
and ``--run-dir/result.json``; whether it replaces the shipped network is decided on validation as for any run
(README: the monitor and the guard's development flag rate).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from core.models.cards import write_evaluation
from training.brain_other_data import validation_slices
from training.train_tumour_net import MODEL_NAME, RUNS_DIR, TumourNetConfig, make_validator
from training.tumour_data import load_slices, make_splits

SOUP_DIR = f"{MODEL_NAME}_soup"
"""The default run folder of a soup (``runs/tumour_net_soup``)."""
SHARED_CONFIG = ("image_size", "base_filters", "depth", "pooling", "val_fraction", "seed")
"""What the runs of one soup must share: the architecture and the validation split."""


Validator = Callable[[keras.Model], dict[str, float]]


@dataclass(frozen=True)
class Ingredient:
    """One run's best network and its validation scores."""

    run_dir: Path
    summary: dict
    model: keras.Model
    scores: dict[str, float]

    @property
    def score(self) -> float:
        return self.scores["val_score"]


def mean_weights(models: list[keras.Model]) -> list[np.ndarray]:
    """The element-wise mean of networks of one architecture, weight by weight (float64 sums, float32 result)."""
    stacks = zip(*(model.get_weights() for model in models), strict=True)
    return [np.mean(np.stack(weights).astype(np.float64), axis=0).astype(weights[0].dtype) for weights in stacks]


def greedy_soup(ingredients: list[Ingredient], validate: Validator) -> tuple[keras.Model, list[dict], dict[str, float]]:
    """The soup network, one row per ingredient (its own score, the soup's score with it, whether it was kept) and
    the soup's scores. ``ingredients`` must be sorted best first."""
    lead = ingredients[0]
    soup = keras.models.clone_model(lead.model)
    members, scores = [lead.model], lead.scores
    soup.set_weights(lead.model.get_weights())
    rows = [ingredient_row(lead, lead.scores, kept=True)]
    for candidate in ingredients[1:]:
        soup.set_weights(mean_weights([*members, candidate.model]))
        tried = validate(soup)
        kept = tried["val_score"] >= scores["val_score"]
        rows.append(ingredient_row(candidate, tried, kept))
        print(f"{candidate.run_dir.name}: alone {candidate.score:.4f}, in the soup {tried['val_score']:.4f}"
              f" -> {'kept' if kept else 'left out'}", flush=True)
        if kept:
            members, scores = [*members, candidate.model], tried
    soup.set_weights(mean_weights(members))
    return soup, rows, scores


def ingredient_row(ingredient: Ingredient, soup_scores: dict[str, float], kept: bool) -> dict:
    """What the card says of one ingredient: its run, the command it was trained with, its own validation score and
    the soup's with it."""
    return {"run": ingredient.run_dir.name, "command": ingredient.summary["run"]["command"],
            "val_score": ingredient.score, "soup_val_score": soup_scores["val_score"], "kept": kept}


def several_source_validator(config: dict) -> Validator:
    """The training monitor's validation (Kaggle, BRISC and LGG, and the other collections) for runs of ``config``."""
    config = TumourNetConfig(**config)
    splits = make_splits(val_fraction=config.val_fraction, seed=config.seed)
    return make_validator(load_slices(splits.val, config.spec), load_slices(validation_slices(), config.spec))


def make_soup(run_dirs: list[Path], run_dir: Path, out_dir: Path,
              validate: Validator | None = None) -> dict:
    """Soup the runs' networks into ``out_dir/tumour_net.keras`` and write ``run_dir/result.json``; ``validate``
    replaces :func:`several_source_validator`."""
    started = time.time()
    summaries = [json.loads((folder / "result.json").read_text()) for folder in run_dirs]
    shared = {json.dumps({key: summary["config"].get(key) for key in SHARED_CONFIG}) for summary in summaries}
    if len(shared) != 1:
        raise ValueError("the runs differ in architecture or validation split; a soup needs one of each")
    validate = validate or several_source_validator(summaries[0]["config"])
    ingredients = []
    for folder, summary in zip(run_dirs, summaries, strict=True):
        model = keras.saving.load_model(folder / f"{MODEL_NAME}.keras", compile=False)
        ingredients.append(Ingredient(folder, summary, model, validate(model)))
        print(f"{folder.name}: {ingredients[-1].score:.4f}", flush=True)
    ingredients.sort(key=lambda item: -item.score)
    soup, rows, scores = greedy_soup(ingredients, validate)
    for folder in (run_dir, out_dir):
        folder.mkdir(parents=True, exist_ok=True)
    soup.save(out_dir / f"{MODEL_NAME}.keras")
    lead = ingredients[0].summary
    summary = lead | {"soup": {"recipe": "greedy soup (Wortsman et al. 2022): runs ranked by the validation monitor, "
                                         "each added if the mean with it scores at least as well",
                               "ingredients": rows, "scores": scores, "lead_run": ingredients[0].run_dir.name,
                               "command": " ".join(["python -m training.soup_tumour_net",
                                                    *(str(path) for path in run_dirs)]),
                               "wall_time_s": round(time.time() - started, 1)}}
    write_evaluation(summary, run_dir / "result.json")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="run folders, each with tumour_net.keras and result.json")
    parser.add_argument("--run-dir", type=Path, default=RUNS_DIR / SOUP_DIR, help="where result.json goes")
    parser.add_argument("--out", type=Path, default=RUNS_DIR / SOUP_DIR, help="where tumour_net.keras goes")
    args = parser.parse_args(argv)
    summary = make_soup(args.runs, args.run_dir, args.out)
    kept = [row["run"] for row in summary["soup"]["ingredients"] if row["kept"]]
    print(f"soup of {', '.join(kept)}: validation score {summary['soup']['scores']['val_score']:.4f}")


if __name__ == "__main__":
    main()
