"""Model performance: every number and curve comes from the tumour network's card in the weights folder."""

import pandas as pd
import streamlit as st

from app_pages.common import load_cards, missing_model_info, network_sha256
from core.models.cards import TUMOUR_NET
from core.present import figures, summaries
from core.present.gallery import dataset_present, dataset_root, load_thumbnail, misclassified_files

GALLERY_SIZE = 24
thumbnail = st.cache_data(show_spinner=False)(load_thumbnail)


def plot(figure, key: str) -> None:
    """A figure in our own clinical style (``theme=None``); keys keep identical "not available" figures apart."""
    st.plotly_chart(figure, theme=None, key=key)


def history_ui(name: str, card: dict, metrics: list[str]) -> None:
    """Training curves, one column per metric."""
    st.subheader("Training curves")
    for column, metric in zip(st.columns(len(metrics)), metrics, strict=True):
        with column:
            plot(figures.make_history_figure(card.get("history") or {}, metric, card.get("best_epoch")),
                 f"{name}_history_{metric}")


def table(frame, what: str) -> None:
    """A table drawn from the card, or one line saying ``what`` the card lacks; a plain row number is not shown."""
    if frame.empty:
        st.caption(f"{what} is {summaries.NOT_AVAILABLE} in the model card.")
    else:
        st.dataframe(frame, hide_index=isinstance(frame.index, pd.RangeIndex))


def type_ui(card: dict, study: dict | None) -> None:
    history_ui("type", card, ["type_loss", "accuracy", "macro_f1"])

    st.subheader("Test results: official split and without duplicates of training images")
    st.markdown(summaries.duplicates_sentence(card))
    table(summaries.classifier_test_table(card), "The test summary")
    normalise = st.toggle("Show confusion matrices as shares of each true class", key="confusion_normalise")
    tests = card.get("test") or {}
    for column, (key, split) in zip(st.columns(max(len(tests), 1)), tests.items(), strict=False):
        with column:
            plot(figures.make_confusion_figure(split.get("confusion_matrix"), card.get("class_names", []), normalise,
                                               title=summaries.split_label(key)), f"confusion_{key}")

    key = st.selectbox("Test split for the curves below", list(tests), format_func=summaries.split_label,
                       key="type_split")
    split = tests.get(key) or {}
    left, right = st.columns(2)
    with left:
        plot(figures.make_roc_figure(split.get("roc")), "type_roc")
    with right:
        plot(figures.make_per_class_figure(split.get("per_class")), "type_per_class")

    st.subheader("Calibration")
    st.markdown(f"Temperature scaling, fitted on validation: T = "
                f"{summaries.format_value(summaries.dig(card, 'calibration', 'temperature'))}. "
                "Expected calibration error (ECE, lower is better):")
    left, right = st.columns(2)
    with left:
        table(summaries.calibration_table(card), "The calibration summary")
    with right:
        plot(figures.make_reliability_figure(split.get("calibration"), title="Reliability after scaling"),
             "type_reliability")

    gallery_ui(card, split)
    study_ui(study)


def gallery_ui(card: dict, split: dict) -> None:
    """The most confident mistakes of the chosen split, when the data set is on this machine."""
    st.subheader("Misclassified test images")
    if not dataset_present(card):
        root = dataset_root(card)
        st.caption(f"The data set is not at {root}, so the images cannot be shown." if root else
                   "The model card does not say where its data set is, so the images cannot be shown.")
        return
    entries = misclassified_files(split.get("misclassified"), dataset_root(card), GALLERY_SIZE)
    if not entries:
        st.caption("No misclassified image of this split was found on disk.")
    for start in range(0, len(entries), 6):
        for column, entry in zip(st.columns(6), entries[start:start + 6], strict=False):
            image = thumbnail(entry["path"])
            if image is not None:
                column.image(image, caption=f"true {entry['true']}, predicted {entry['predicted']} "
                                            f"({summaries.format_value(entry.get('probability'), 'percent')})")


def study_ui(study: dict | None) -> None:
    st.subheader("Hyperparameter study")
    if study is None:
        st.info(f"No study card ({summaries.STUDY['card']}.json); run `{summaries.STUDY['train']}`.")
        return
    st.markdown(f"Objective: {study.get('objective', summaries.NOT_AVAILABLE)}.")
    plot(figures.make_study_figure(study.get("trials"), objective="val_score"), "study")
    table(summaries.trials_table(study), "The trial list")


def presence_ui(card: dict) -> None:
    st.markdown("Presence is one minus the network's calibrated probability of *no tumour*, so it cannot contradict "
                "the type; the threshold was set on validation slices of both sources.")
    st.subheader("Operating point per split")
    table(summaries.presence_table(card), "The test summary")
    tests = card.get("test") or {}
    key = st.selectbox("Test split", list(tests), format_func=summaries.split_label, key="presence_split")
    split = tests.get(key) or {}
    point = summaries.operating_point(split)
    left, right = st.columns(2)
    with left:
        plot(figures.make_binary_roc_figure(split.get("roc"), point), "presence_roc")
    with right:
        plot(figures.make_pr_figure(split.get("pr"), point), "presence_pr")


def segmentation_ui(card: dict, rules: dict) -> None:
    st.markdown(f"The mask is drawn only when a tumour is present, without regions smaller than "
                f"{summaries.format_value(rules.get('min_component_px'), 'count')} pixels at the network's "
                f"resolution ({rules.get('speck_rule', summaries.NOT_AVAILABLE)}).")
    history_ui("segmentation", card, ["mask_loss", "dice"])
    st.subheader("Overlap with expert masks")
    table(summaries.segmentation_table(card), "The overlap summary")
    validation = card.get("validation") or {}
    for column, key in zip(st.columns(2), ["brisc", "lgg"], strict=True):
        with column:
            plot(figures.make_histogram_figure(summaries.dig(validation, key, "dice", "histogram"),
                                               f"Dice per slice: {summaries.split_label(key)}"), f"dice_{key}")
    left, right = st.columns(2)
    with left:
        st.markdown("**BRISC by tumour class**")
        table(summaries.dice_groups_table(summaries.dig(validation, "brisc", "by_class")), "By class")
        st.markdown("**BRISC by imaging plane**")
        table(summaries.dice_groups_table(summaries.dig(validation, "brisc", "by_plane")), "By plane")
    with right:
        patient_mean = summaries.dig(validation, "lgg", "per_patient_mean_dice")
        st.markdown(f"**LGG test patients: Dice per patient** (mean: {summaries.format_value(patient_mean)})")
        table(summaries.per_patient_table(card), "The per-patient list")
    st.subheader("Tumour drawn on slices without tumour")
    table(summaries.false_positive_table(card), "The false-positive summary")


def heatmap_ui(card: dict) -> None:
    heatmap = card.get("heatmap") or {}
    st.markdown(f"Measured on {summaries.format_value(heatmap.get('slices'), 'count')} BRISC validation slices with "
                "expert masks. *Pointing game*: share of slices whose heatmap peak lies inside the mask dilated by "
                f"{heatmap.get('dilation_px_at_512', summaries.NOT_AVAILABLE)} px at 512 px; *mass inside mask*: "
                "share of the heatmap's sum inside the mask. Default: "
                f"{heatmap.get('default_method', summaries.NOT_AVAILABLE)} at "
                f"`{heatmap.get('default_layer', summaries.NOT_AVAILABLE)}` "
                f"({heatmap.get('rule', summaries.NOT_AVAILABLE)}).")
    table(summaries.heatmap_table(card), "The heatmap comparison")


st.title("Model performance")
cards = load_cards()
if TUMOUR_NET not in cards:
    missing_model_info(TUMOUR_NET)
    st.stop()
network = cards[TUMOUR_NET]
views = summaries.section_views(network)
st.caption(f"Trained {summaries.format_date(network)}. {summaries.training_sentence(network)}")
with st.expander("Compared with the three separate models it replaced"):
    st.caption(summaries.dig(network, "separate_models", "note") or summaries.NOT_AVAILABLE)
    table(summaries.separate_models_table(network), "The comparison")
external = cards.get(summaries.EXTERNAL_CARD)
with st.expander("On brain MRI from collections it never saw (external test)"):
    st.caption(" ".join((summaries.dig(external, "notes") or {}).values()) or summaries.NOT_AVAILABLE)
    if external and summaries.dig(external, "model", "sha256") != network_sha256():
        st.warning("These numbers were measured on another network; re-run `python -m training.evaluate_external`.")
    table(summaries.external_table(external), "The external test")
guard = cards.get(summaries.GUARD_CARD)
with st.expander("Is it a brain MRI? The input guard on images from sources it never saw"):
    st.caption(f"Shipped: {summaries.dig(guard, 'candidate') or summaries.NOT_AVAILABLE}, chosen because "
               f"{summaries.dig(guard, 'method', 'selection') or summaries.NOT_AVAILABLE}. Threshold "
               f"{summaries.format_value(summaries.dig(guard, 'threshold'))}: "
               f"{summaries.dig(guard, 'method', 'threshold_rule') or summaries.NOT_AVAILABLE}.")
    if guard and summaries.dig(guard, "model_sha256") != network_sha256():
        st.warning("The guard was fitted on another network; re-run `python -m training.fit_ood`.")
    table(summaries.guard_candidates_table(guard), "The candidate comparison")
    table(summaries.guard_non_brain_table(guard), "The held-out non-brain results")
    table(summaries.guard_brain_table(guard), "The brain MRI results")
if summaries.dig(network, "training", "earlier_stages"):
    with st.expander("Compared with its earlier training stages"):
        st.caption("The same network after each stage it descends from, as that stage's own card measured it.")
        table(summaries.earlier_stages_table(network), "The stage comparison")
type_tab, presence_tab, segmentation_tab, heatmap_tab = st.tabs(
    ["Tumour type", "Tumour presence", "Segmentation", "Heatmaps"])
with type_tab:
    type_ui(views["type"], cards.get(summaries.STUDY["card"]))
with presence_tab:
    presence_ui(views["presence"])
with segmentation_tab:
    segmentation_ui(views["segmentation"], network.get("segmentation") or {})
with heatmap_tab:
    heatmap_ui(network)
