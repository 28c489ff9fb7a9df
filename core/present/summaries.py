"""Shape model cards into the labels, sentences and tables the app shows; a missing part reads "not available".

Cards differ in age and completeness (a model still training, an older schema), so every accessor here walks the card
with :func:`dig` and never raises on a missing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from core.models.cards import MODELS

NOT_AVAILABLE = "not available"
DISCLAIMER = ("Research use only — not a medical device. "
              "Results must be confirmed by a qualified radiologist.")
STUDY = {"card": "tumour_net_study", "train": "python -m training.tune_tumour_net"}
"""The tumour network's hyperparameter study: a card without weights, hence not in ``core.models.cards.MODELS``."""

METRIC_LABELS = {
    "loss": "Loss", "type_loss": "Type loss", "mask_loss": "Mask loss", "val_score": "Validation score",
    "accuracy": "Accuracy", "macro_f1": "Macro-F1", "val_macro_f1": "Validation macro-F1",
    "auc": "AUC", "dice": "Dice", "iou": "IoU", "precision": "Precision", "recall": "Recall", "f1": "F1",
}
SPLIT_LABELS = {
    "official": "Official test", "deduplicated": "Deduplicated test",
    "kaggle_official": "Kaggle official test", "kaggle_deduplicated": "Kaggle deduplicated test",
    "lgg_patients": "LGG patients", "brisc": "BRISC validation", "lgg": "LGG test patients (FLAIR)",
    "lgg_test_patients": "LGG test patients", "lgg_test_tumour_free": "LGG test slices without tumour",
    "kaggle": "Kaggle", "validation_kaggle": "Validation: Kaggle", "validation_lgg": "Validation: LGG",
    "kaggle_notumor": "Kaggle no-tumour slices", "kaggle_notumor_test": "Kaggle no-tumour test slices",
    "lgg_empty": "LGG slices without tumour", "validation": "Validation",
    "kaggle_validation": "Kaggle validation", "lgg_validation_patients": "LGG validation patients",
    "kaggle_test_official": "Kaggle official test", "kaggle_test_deduplicated": "Kaggle deduplicated test",
}
GROUP_LABELS = {"gl": "glioma", "me": "meningioma", "pi": "pituitary", "ax": "axial", "co": "coronal", "sa": "sagittal"}
"""BRISC file-name codes for tumour class and imaging plane."""

CLASS_LABELS = {"notumor": "no tumour"}
"""Display names for class names that are not plain words; other class names are shown as the card spells them."""


def class_label(name: str) -> str:
    """How a class is named in text: "notumor" reads "no tumour"."""
    return CLASS_LABELS.get(name, name)


def dig(card: Any, *keys: str | int) -> Any:
    """``card[k1][k2]...`` or None as soon as a key or index is missing."""
    for key in keys:
        try:
            card = card[key]
        except (KeyError, IndexError, TypeError):
            return None
    return card


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key.replace("_", " ").capitalize())


def split_label(key: str) -> str:
    return SPLIT_LABELS.get(key, key.replace("_", " "))


def format_value(value: Any, kind: str = "score") -> str:
    """``percent`` (0.9512 -> "95.1 %"), ``score`` (3 decimals) or ``count``; None reads "not available"."""
    if value is None:
        return NOT_AVAILABLE
    if not isinstance(value, (int, float)):
        return str(value)
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "count":
        return f"{int(value):,}"
    return f"{value:.3f}"


def format_date(card: Mapping | None) -> str:
    """The card's ``run.date`` (ISO 8601) as "YYYY-MM-DD HH:MM", or "not available"."""
    date = dig(card, "run", "date")
    return date[:16].replace("T", " ") if isinstance(date, str) else NOT_AVAILABLE


def is_installed(name: str, weights_dir: Path) -> bool:
    """True when both ``name.keras`` and its card ``name.json`` are in ``weights_dir`` (the registry needs both)."""
    return all((Path(weights_dir) / f"{name}{suffix}").is_file() for suffix in (".keras", ".json"))


def headline_metrics(name: str, card: Mapping | None, lead_only: bool = True) -> dict[str, str]:
    """The formatted headline results of one model of :data:`core.models.cards.MODELS`, by label: the ones it leads
    with, or all of them."""
    return {h.label: format_value(dig(card, *h.path), h.kind) for h in MODELS[name].headlines
            if h.lead or not lead_only}


def metrics_summary_table(cards: Mapping[str, Mapping], titles: Mapping[str, str]) -> pd.DataFrame:
    """One row per headline number of every model in ``titles`` (model name -> display title)."""
    rows = [{"Model": title, "Trained": format_date(cards.get(name)), "Metric": label, "Value": value}
            for name, title in titles.items() for label, value in headline_metrics(name, cards.get(name)).items()]
    return pd.DataFrame(rows, columns=["Model", "Trained", "Metric", "Value"])


def reproduce_commands(cards: Mapping[str, Mapping]) -> dict[str, str]:
    """The commands recorded in each card that has one, by card name (earlier training stages first)."""
    return {name: "\n".join([*(stage.get("command") for stage in dig(card, "training", "earlier_stages") or []
                               if stage.get("command")), dig(card, "run", "command")])
            for name, card in cards.items() if dig(card, "run", "command")}


def duplicate_count(card: Mapping | None) -> int | None:
    """How many official Testing files are byte-identical copies of Training files (a count, or their list)."""
    duplicates = dig(card, "data", "test_duplicates_of_training")
    if duplicates is None:
        return None
    return len(duplicates) if isinstance(duplicates, list) else int(duplicates)


def duplicates_sentence(card: Mapping | None) -> str:
    """Why the deduplicated test split exists, with the count from the card."""
    count = duplicate_count(card)
    if count is None:
        return f"The number of Testing images copied from Training is {NOT_AVAILABLE} in the model card."
    return (f"The official Kaggle Testing folder holds {count} byte-identical copies of Training images; "
            "the deduplicated test split leaves them out.")


def _table(rows: dict[str, dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Rows by label; missing cells become NaN so numeric columns stay numeric, and rows with nothing are dropped."""
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).astype(float).dropna(how="all")


def classifier_test_table(card: Mapping | None) -> pd.DataFrame:
    """Official against deduplicated test split: size, accuracy, macro-F1, ECE and per-class F1 (columns = splits)."""
    splits = dig(card, "test") or {}
    rows: dict[str, dict[str, Any]] = {}
    for key, split in splits.items():
        values = {"Images": split.get("count"), "Accuracy": split.get("accuracy"), "Macro-F1": split.get("macro_f1"),
                  "ECE (calibrated)": dig(split, "calibration", "ece"),
                  "ECE (uncalibrated)": split.get("ece_uncalibrated")}
        values |= {f"F1 {name}": scores.get("f1") for name, scores in (split.get("per_class") or {}).items()}
        rows[split_label(key)] = values
    columns = list(dict.fromkeys(column for values in rows.values() for column in values))
    return _table(rows, columns).T


def calibration_table(card: Mapping | None) -> pd.DataFrame:
    """Expected calibration error before and after temperature scaling, on validation and each test split."""
    rows = {"Validation": {"Before": dig(card, "calibration", "val_ece_before"),
                           "After": dig(card, "calibration", "val_ece_after")}}
    for key, split in (dig(card, "test") or {}).items():
        rows[split_label(key)] = {"Before": split.get("ece_uncalibrated"), "After": dig(split, "calibration", "ece")}
    return _table(rows, ["Before", "After"])


def trials_table(study: Mapping | None) -> pd.DataFrame:
    """One row per study trial, best first (by the study's objective, ``val_score``): hyperparameters, scores, size
    and time."""
    rows = [{"trial": t.get("number"), **(t.get("params") or {}),
             **{k: t.get(k) for k in ("val_score", "val_macro_f1", "val_dice", "val_accuracy", "parameters",
                                      "seconds")}}
            for t in dig(study, "trials") or []]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).set_index("trial").sort_values("val_score", ascending=False)


def operating_point(split: Mapping | None) -> dict[str, float | None]:
    """Threshold, sensitivity, specificity and precision of a binary split; precision comes from its
    ``confusion_matrix`` ``[[tn, fp], [fn, tp]]`` (None when no slice was called positive)."""
    fp, tp = dig(split, "confusion_matrix", 0, 1), dig(split, "confusion_matrix", 1, 1)
    precision = tp / (tp + fp) if tp is not None and fp is not None and tp + fp > 0 else None
    return {"threshold": dig(split, "threshold"), "sensitivity": dig(split, "sensitivity"),
            "specificity": dig(split, "specificity"), "precision": precision}


def presence_table(card: Mapping | None) -> pd.DataFrame:
    """Validation (where the threshold was chosen; one row per source when the card splits it so) and each test
    split of the presence decision: size, AUC, average precision and the operating point."""
    validation = dig(card, "validation") or {}
    by_source = validation and "count" not in validation
    splits = {**({f"validation_{key}": split for key, split in validation.items()} if by_source
                 else {"validation": validation}), **(dig(card, "test") or {})}
    rows = {split_label(key): {"Images": split.get("count"), "AUC": split.get("auc"),
                               "Average precision": dig(split, "pr", "average_precision"),
                               **{k.capitalize(): v for k, v in operating_point(split).items()}}
            for key, split in splits.items()}
    return _table(rows, ["Images", "AUC", "Average precision", "Threshold", "Sensitivity", "Specificity",
                         "Precision"])


def segmentation_table(card: Mapping | None) -> pd.DataFrame:
    """Dice and IoU (mean, median) of the segmenter on BRISC validation and on LGG."""
    rows = {split_label(key): {"Slices": result.get("count"),
                               "Mean Dice": dig(result, "dice", "mean"), "Median Dice": dig(result, "dice", "median"),
                               "Mean IoU": dig(result, "iou", "mean"), "Median IoU": dig(result, "iou", "median")}
            for key, result in (dig(card, "validation") or {}).items() if key in ("brisc", "lgg")}
    return _table(rows, ["Slices", "Mean Dice", "Median Dice", "Mean IoU", "Median IoU"])


def dice_groups_table(groups: Mapping[str, Mapping] | None) -> pd.DataFrame:
    """Mean Dice per BRISC group (tumour class or plane), codes spelled out."""
    rows = {GROUP_LABELS.get(code, code): {"Slices": group.get("count"), "Mean Dice": group.get("dice_mean")}
            for code, group in (groups or {}).items()}
    return _table(rows, ["Slices", "Mean Dice"])


def per_patient_table(card: Mapping | None) -> pd.DataFrame:
    """Dice per LGG patient (``dice``, the Dice of the stacked slices, or ``dice_mean``), worst first."""
    rows = [{"Patient": row.get("patient"), "Dice": row.get("dice", row.get("dice_mean")), "Slices": row.get("slices")}
            for row in dig(card, "validation", "lgg", "per_patient") or []]
    return pd.DataFrame(rows, columns=["Patient", "Dice", "Slices"]).set_index("Patient").sort_values("Dice")


def false_positive_table(card: Mapping | None) -> pd.DataFrame:
    """How much tumour the segmenter draws on slices that have none."""
    rows = {split_label(key): {"Slices": group.get("count"), "Mean area fraction": group.get("mean_fraction"),
                               "Share with any pixel": group.get("share_with_any_pixels")}
            for key, group in (dig(card, "validation", "false_positive_area") or {}).items()}
    return _table(rows, ["Slices", "Mean area fraction", "Share with any pixel"])


def split_counts_sentence(card: Mapping | None) -> str:
    """The classifier's image counts per split, from ``data.counts``."""
    counts = dig(card, "data", "counts") or {}
    if not counts:
        return f"The split sizes are {NOT_AVAILABLE} in the model card."
    parts = [f"{format_value(counts.get(key), 'count')} {label}" for key, label in
             (("train", "training"), ("val", "validation"), ("test", "official test"),
              ("test_deduplicated", "deduplicated test"))]
    return f"Images per split: {', '.join(parts)}."


def section_views(card: Mapping | None) -> dict[str, dict]:
    """The tumour network's card seen as one card per question (type, presence, segmentation), in the shapes the
    tables above and :mod:`core.present.figures` read; a missing part reads as absent."""
    segmentation = dig(card, "segmentation") or {}
    lgg = dig(segmentation, "lgg_test_patients") or {}
    return {
        "type": {"class_names": dig(card, "class_names") or [], "history": dig(card, "history") or {},
                 "best_epoch": dig(card, "best_epoch"), "calibration": dig(card, "calibration") or {},
                 "test": {key: split for key, split in (dig(card, "type", "test") or {}).items()},
                 "data": dig(card, "data") or {}, "run": dig(card, "run") or {}},
        "presence": {"threshold": dig(card, "presence", "threshold"),
                     "validation": dig(card, "presence", "validation") or {},
                     "test": dig(card, "presence", "test") or {}},
        "segmentation": {"history": dig(card, "history") or {}, "best_epoch": dig(card, "best_epoch"),
                         "validation": {"brisc": dig(segmentation, "brisc_validation") or {},
                                        "lgg": {**lgg, "dice": lgg.get("slice_dice")},
                                        "false_positive_area": dig(segmentation, "false_positive_area") or {}}},
    }


def heatmap_table(card: Mapping | None) -> pd.DataFrame:
    """Localisation of every heatmap method and layer on validation masks, the default marked."""
    heatmap = dig(card, "heatmap") or {}
    rows = [{"Method": row.get("method"), "Layer": row.get("layer"), "Pointing game": row.get("pointing_game"),
             "Mass inside mask": row.get("mass_inside_mask"), "ms per slice": row.get("ms_per_slice"),
             "Default": row.get("method") == heatmap.get("default_method")
             and row.get("layer") == heatmap.get("default_layer")}
            for row in heatmap.get("candidates") or []]
    return pd.DataFrame(rows, columns=["Method", "Layer", "Pointing game", "Mass inside mask", "ms per slice",
                                       "Default"])


NETWORK_MEASURES = {
    "type accuracy, Kaggle official test": ("type", "test", "kaggle_official", "accuracy"),
    "type macro-F1, Kaggle official test": ("type", "test", "kaggle_official", "macro_f1"),
    "type accuracy, Kaggle deduplicated test": ("type", "test", "kaggle_deduplicated", "accuracy"),
    "presence sensitivity, Kaggle official test": ("presence", "test", "kaggle_official", "sensitivity"),
    "presence specificity, Kaggle official test": ("presence", "test", "kaggle_official", "specificity"),
    "presence specificity, LGG test patients": ("presence", "test", "lgg_test_patients", "specificity"),
    "BRISC validation mean Dice": ("segmentation", "brisc_validation", "dice", "mean"),
    "LGG test per-patient Dice": ("segmentation", "lgg_test_patients", "per_patient_mean_dice"),
    "Kaggle notumor test slices with any mask pixel": ("segmentation", "false_positive_area", "kaggle_notumor_test",
                                                       "share_with_any_pixels"),
}
"""The network's numbers that comparisons with earlier models show, by label (the separate models' cards use the
same labels)."""


def network_measures(card: Mapping | None) -> dict[str, Any]:
    """:data:`NETWORK_MEASURES` read from a tumour-network card."""
    return {label: dig(card, *keys) for label, keys in NETWORK_MEASURES.items()}


def separate_models_table(card: Mapping | None) -> pd.DataFrame:
    """What the separate models this network replaced measured, one row per number, beside the network's own."""
    previous = dig(card, "separate_models", "results") or {}
    own = network_measures(card)
    rows = [{"Measure": label, "Separate model": name, "Then": value, "Tumour network": own.get(label)}
            for name, results in previous.items() for label, value in results.items()
            if label in own and value is not None]
    return pd.DataFrame(rows, columns=["Measure", "Separate model", "Then", "Tumour network"])


def earlier_stages_table(card: Mapping | None) -> pd.DataFrame:
    """The network after each earlier training stage (the one it was seeded from) beside the shipped network."""
    stages = dig(card, "training", "earlier_stages") or []
    own = network_measures(card)
    columns = [f"{stage.get('image_size')} px, {stage.get('epochs_run')} epochs" for stage in stages]
    rows = [{"Measure": label, **{column: dig(stage, "results", label) for column, stage in
                                  zip(columns, stages, strict=True)}, "Shipped network": value}
            for label, value in own.items() if value is not None]
    return pd.DataFrame(rows, columns=["Measure", *columns, "Shipped network"]) if stages else pd.DataFrame()


def heatmap_sentence(card: Mapping | None) -> str:
    """What the default heatmap shows, and what it cannot show, for the model card's caveats."""
    method = dig(card, "architecture", "gradcam_method") or NOT_AVAILABLE
    if method != "Attention":
        return (f"The default heatmap ({method}) shows which features of one layer raised the score of the answer; it "
                "is not a segmentation and can light up outside the tumour.")
    return ("The default heatmap (Attention) shows the weights with which the type head pooled the encoder's "
            "features: they come from the network's own tumour map on a coarse grid, so the heatmap agrees with the "
            "outline by construction. It shows where the type was read, not which image features decided it; "
            "Grad-CAM++, Grad-CAM and Score-CAM remain selectable for that.")


def training_sentence(card: Mapping | None) -> str:
    """How long the network trained: epochs, resumed parts, wall time and epochs per hour."""
    training = dig(card, "training") or {}
    if not training:
        return f"The training summary is {NOT_AVAILABLE} in the model card."
    hours = (training.get("wall_time_s") or 0) / 3600
    stages = [f"{stage.get('epochs_run')} epochs at {stage.get('image_size')} px "
              f"({(stage.get('wall_time_s') or 0) / 3600:.1f} h)" for stage in training.get("earlier_stages") or []]
    earlier = f", seeded by earlier stages of {' and then '.join(stages)}" if stages else ""
    return (f"Trained for {training.get('epochs_run')} epochs at {dig(card, 'input', 'size')} px in "
            f"{training.get('parts')} part(s), {hours:.1f} h of wall time ({training.get('epochs_per_hour')} epochs "
            f"per hour; best epoch {dig(card, 'best_epoch')}){earlier}.")


def architecture_table(cards: Mapping[str, Mapping], titles: Mapping[str, str]) -> pd.DataFrame:
    """What each installed model is: task, architecture, size and input, one row per card present."""
    rows = [{"Model": title, "Task": dig(cards[name], "task") or NOT_AVAILABLE,
             "Architecture": _architecture_text(dig(cards[name], "architecture")),
             "Parameters": format_value(dig(cards[name], "architecture", "parameters"), "count"),
             "Input": _input_text(dig(cards[name], "input"))}
            for name, title in titles.items() if name in cards]
    return pd.DataFrame(rows, columns=["Model", "Task", "Architecture", "Parameters", "Input"])


def _input_text(spec: Mapping | None) -> str:
    if not spec:
        return NOT_AVAILABLE
    crop = ", brain crop" if spec.get("crop") else ""
    return f"{spec.get('size')} x {spec.get('size')} x {spec.get('channels', 1)}{crop}"


def _architecture_text(architecture: Mapping | str | None) -> str:
    if isinstance(architecture, str):
        return architecture
    return dig(architecture, "type") or dig(architecture, "name") or NOT_AVAILABLE


EXTERNAL_CARD = "tumour_net_external"
"""The card of ``python -m training.evaluate_external``: the network on brain MRI collections it never saw."""
EXTERNAL_MEASURES = {
    "Tumour slices": ("tumour", "count"), "Sensitivity": ("tumour", "sensitivity"),
    "Tumour-free slices": ("tumour_free", "count"), "Specificity": ("tumour_free", "specificity"),
    "Any mask shown": ("tumour_free", "share_with_any_pixels"), "Mean Dice": ("dice", "mean"),
    "Median Dice": ("dice", "median"), "OOD false flags": ("ood", "flag_rate"),
}
"""Columns of :func:`external_table`, by label: the path into one group summary of the external test card."""


POOLED_ROWS = {"all": "All sources", "held_out": "Held-out sources (the test)",
               "validation": "Validation sources (chose the network)"}
"""Row names of the external card's pooled groups; others read "All sources without ..."."""


def external_table(card: Mapping | None) -> pd.DataFrame:
    """The external test card (``tumour_net_external.json``): one row per source and sequence, then the pooled rows
    (all sources, without the source whose patient is also in lgg-kaggle_3m, the held-out sources and the validation
    sources); empty without a card.

    Missing numbers (no tumour slice in a group, no guard installed) are NaN, so the columns stay numeric; counts
    are integers.
    """
    results = dig(card, "results") or {}
    groups = [(source, sequence, summary) for source, parts in (results.get("sources") or {}).items()
              for sequence, summary in (parts.get("by_sequence") or {}).items()]
    groups += [(POOLED_ROWS.get(key, f"All sources {key.replace('_', ' ', 1)}"), "all", summary)
               for key, summary in (results.get("pooled") or {}).items()]
    rows = [{"Source": source, "Sequence": sequence,
             **{label: dig(summary, *path) for label, path in EXTERNAL_MEASURES.items()}}
            for source, sequence, summary in groups]
    frame = pd.DataFrame(rows, columns=["Source", "Sequence", *EXTERNAL_MEASURES])
    return frame.astype({label: "Int64" if path[-1] == "count" else float for label, path in EXTERNAL_MEASURES.items()})


GUARD_CARD = "ood"
"""The out-of-distribution guard's card (``python -m training.fit_ood``)."""


def guard_candidates_table(card: Mapping | None) -> pd.DataFrame:
    """The guard's candidates side by side (percent): development non-brain images flagged with their source left
    out, held-out non-brain images flagged, and the worst false-flag rate over the held-out brain sets."""
    rows = {}
    for name, entry in (dig(card, "candidates") or {}).items():
        false_flags = [dig(summary, "flag_rate") for key, summary in
                       (dig(entry, "results", "brain_false_flags") or {}).items()
                       if key not in (dig(card, "threshold_by_source") or {})]
        rows[name] = {"Development non-brain flagged (source left out)": entry.get("development_flag_rate"),
                      "Held-out non-brain flagged": dig(entry, "results", "non_brain", "flag_rate"),
                      "Worst brain test set falsely flagged": max(false_flags, default=None)}
    return 100 * _table(rows, ["Development non-brain flagged (source left out)", "Held-out non-brain flagged",
                               "Worst brain test set falsely flagged"])


def guard_non_brain_table(card: Mapping | None) -> pd.DataFrame:
    """The shipped guard on held-out non-brain sources: images and percent flagged per kind."""
    kinds = dig(card, "results", "non_brain", "by_kind") or {}
    return _table({kind.replace("_", " "): {"Images": dig(summary, "count"), "Flagged (%)": 100 * summary["flag_rate"]}
                   for kind, summary in kinds.items()}, ["Images", "Flagged (%)"])


def guard_brain_table(card: Mapping | None) -> pd.DataFrame:
    """The shipped guard on brain MRI: slices, percent falsely flagged and ROC AUC against held-out non-brain images,
    per set (validation sets that set the threshold, then test sets)."""
    results = dig(card, "results") or {}
    aucs = results.get("roc_auc_against_non_brain") or {}
    return _table({split_label(name): {"Slices": dig(summary, "count"),
                                       "Falsely flagged (%)": 100 * summary["flag_rate"], "ROC AUC": aucs.get(name)}
                   for name, summary in (results.get("brain_false_flags") or {}).items()},
                  ["Slices", "Falsely flagged (%)", "ROC AUC"])
