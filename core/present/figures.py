"""Plotly figures for predictions and model cards, in one clinical style (white, large type, fixed class colours).

Every ``make_*_figure`` takes plain values from a card and tolerates missing parts: when there is nothing to draw it
returns a figure that says so, so a page can show any card without checking its shape first.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.present.summaries import class_label, metric_label

PALETTE = {
    "glioma": "#d55e00",
    "meningioma": "#0072b2",
    "notumor": "#009e73",
    "pituitary": "#cc79a7",
    "train": "#1f5fa8",
    "validation": "#e69f00",
}
"""Colours from the Okabe-Ito set, which stays distinguishable with colour-vision deficiency."""
FALLBACK_COLOURS = ("#56b4e9", "#e69f00", "#000000", "#999999", "#f0e442", "#1f5fa8")
METRIC_COLOURS = {"precision": "#9ecae1", "recall": "#4292c6", "f1": "#08519c"}
FONT = {"family": "Source Sans, Source Sans Pro, Helvetica Neue, Arial, sans-serif", "size": 14, "color": "#1b1f24"}
DIAGONAL = {"color": "#9aa0a6", "dash": "dash", "width": 1}
HEIGHT = 380
UNAVAILABLE = "Not available in this model card"


def colour(name: str) -> str:
    """The fixed colour of a class or series; unknown names get a stable colour from their spelling."""
    return PALETTE.get(name, FALLBACK_COLOURS[zlib.crc32(name.encode()) % len(FALLBACK_COLOURS)])


LEGEND_CORNERS = {"bottom right": (0.98, 0.02), "bottom left": (0.02, 0.02), "top left": (0.02, 0.98)}
"""Legend positions inside the plot, for curves that leave one corner empty (ROC: bottom right)."""


def _style(fig: go.Figure, title: str, x_title: str = "", y_title: str = "", legend_at: str = "top") -> go.Figure:
    """Apply the shared look; the legend sits above the plot, or inside it at one of :data:`LEGEND_CORNERS`."""
    legend = {"orientation": "h", "x": 1.0, "y": 1.02, "xanchor": "right", "yanchor": "bottom"}
    if legend_at in LEGEND_CORNERS:
        x, y = LEGEND_CORNERS[legend_at]
        legend = {"x": x, "y": y, "xanchor": "right" if x > 0.5 else "left", "yanchor": "top" if y > 0.5 else "bottom",
                  "bgcolor": "rgba(255,255,255,0.85)"}
    fig.update_layout(template="plotly_white", font=FONT, height=HEIGHT, legend=legend,
                      title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 16}},
                      margin={"l": 60, "r": 20, "t": 60, "b": 50})
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _unavailable(title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=UNAVAILABLE, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 15, "color": "#5f6368"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title)


def _add_diagonal(fig: go.Figure, name: str) -> None:
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=DIAGONAL, name=name, hoverinfo="skip"))


def _unit_axes(fig: go.Figure) -> None:
    """Square [0, 1] axes, so curves compare at a glance across figures."""
    fig.update_xaxes(range=[0, 1], constrain="domain")
    fig.update_yaxes(range=[0, 1.02], scaleanchor="x", scaleratio=1, constrain="domain")


def make_probability_figure(probabilities: Mapping[str, float], title: str = "Tumour type probability") -> go.Figure:
    """Horizontal bars of class probabilities (0-1 in, shown as 0-100 %), in the model's class order from the top."""
    if not probabilities:
        return _unavailable(title)
    names, values = list(probabilities), [float(v) for v in probabilities.values()]
    fig = go.Figure(go.Bar(x=values, y=[class_label(n) for n in names], orientation="h",
                           marker_color=[colour(n) for n in names],
                           text=[f"{v:.1%}" for v in values], textposition="auto",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig = _style(fig, title, "Probability")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(180, 60 * len(names) + 90), showlegend=False)
    return fig


def make_history_figure(history: Mapping[str, Sequence[float]], metric: str,
                        best_epoch: int | None = None) -> go.Figure:
    """Training and validation ``metric`` per epoch (keys ``metric`` and ``val_metric``), best epoch marked."""
    title = metric_label(metric)
    series = {"train": (history or {}).get(metric), "validation": (history or {}).get(f"val_{metric}")}
    series = {name: values for name, values in series.items() if values}
    if not series:
        return _unavailable(title)
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name,
                                 line={"color": colour(name), "width": 2}, marker={"size": 5}))
    if best_epoch:
        fig.add_vline(x=best_epoch, line=DIAGONAL, annotation_text="best epoch", annotation_position="bottom left")
    fig = _style(fig, title, "Epoch", title)
    fig.update_xaxes(tick0=1, dtick=max(1, round(max(map(len, series.values())) / 10)))  # whole epochs only
    return fig


def make_confusion_figure(matrix: Sequence[Sequence[int]], class_names: Sequence[str], normalise: bool = False,
                          title: str = "Confusion matrix") -> go.Figure:
    """Counts (or row shares, i.e. recall per true class, when ``normalise``); rows are true, columns predicted."""
    counts = np.asarray(matrix if matrix is not None else [], dtype=float)
    if counts.ndim != 2 or counts.size == 0 or counts.shape[0] != counts.shape[1]:
        return _unavailable(title)
    names = list(class_names) if len(class_names or []) == len(counts) else [str(i) for i in range(len(counts))]
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    values = shares if normalise else counts
    fig = go.Figure(go.Heatmap(
        z=values, x=names, y=names, colorscale="Blues", showscale=False, zmin=0,
        text=[[f"{s:.0%}" if normalise else f"{int(c)}" for c, s in zip(cr, sr, strict=True)]
              for cr, sr in zip(counts, shares, strict=True)],
        texttemplate="%{text}", customdata=np.dstack([counts, shares]),
        hovertemplate="true %{y}, predicted %{x}: %{customdata[0]:.0f} (%{customdata[1]:.1%} of row)<extra></extra>",
    ))
    fig = _style(fig, title, "Predicted", "True")
    fig.update_yaxes(autorange="reversed")
    return fig


def make_roc_figure(roc: Mapping[str, Mapping], title: str = "ROC, one class against the rest") -> go.Figure:
    """One ROC curve per class with its AUC in the legend, and the chance diagonal."""
    curves = {name: curve for name, curve in (roc or {}).items() if curve and curve.get("fpr") and curve.get("tpr")}
    if not curves:
        return _unavailable(title)
    fig = go.Figure()
    for name, curve in curves.items():
        auc = curve.get("auc")
        label = name if auc is None else f"{name} (AUC {auc:.3f})"
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=label,
                                 line={"color": colour(name), "width": 2}))
    _add_diagonal(fig, "chance")
    fig = _style(fig, title, "False positive rate", "True positive rate (sensitivity)", legend_at="bottom right")
    _unit_axes(fig)
    return fig


def make_per_class_figure(per_class: Mapping[str, Mapping[str, float]], title: str = "Per-class scores") -> go.Figure:
    """Precision, recall and F1 per class as grouped bars (0-1), support in the hover."""
    if not per_class:
        return _unavailable(title)
    names = list(per_class)
    fig = go.Figure()
    for metric in ("precision", "recall", "f1"):
        fig.add_trace(go.Bar(x=names, y=[per_class[n].get(metric) for n in names], name=metric_label(metric),
                             marker_color=METRIC_COLOURS[metric],
                             customdata=[per_class[n].get("support") for n in names],
                             hovertemplate="%{x}: %{y:.3f} (support %{customdata})<extra></extra>"))
    fig = _style(fig, title, "", "Score")
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.02])
    return fig


def make_reliability_figure(calibration: Mapping, title: str = "Reliability") -> go.Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration; the ECE is in the title."""
    bins = [b for b in (calibration or {}).get("bins", []) if b.get("count") and b.get("accuracy") is not None]
    if not bins:
        return _unavailable(title)
    ece = calibration.get("ece")
    centres = [(b["lower"] + b["upper"]) / 2 for b in bins]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=centres, y=[b["accuracy"] for b in bins], width=[b["upper"] - b["lower"] for b in bins],
                         name="accuracy", marker_color=PALETTE["train"], marker_line={"color": "white", "width": 1},
                         customdata=[b["count"] for b in bins],
                         hovertemplate="confidence %{x:.2f}: accuracy %{y:.1%} (%{customdata} images)<extra></extra>"))
    fig.add_trace(go.Scatter(x=centres, y=[b["confidence"] for b in bins], mode="markers", name="mean confidence",
                             marker={"color": PALETTE["validation"], "size": 8}))
    _add_diagonal(fig, "perfect calibration")
    full_title = title if ece is None else f"{title} (ECE {ece:.1%})"
    fig = _style(fig, full_title, "Confidence", "Accuracy", legend_at="top left")
    _unit_axes(fig)
    return fig


def make_histogram_figure(histogram: Mapping, title: str, x_title: str = "Dice") -> go.Figure:
    """Bars over precomputed bin ``edges`` (n + 1) with their ``counts`` (n)."""
    edges, counts = (histogram or {}).get("edges") or [], (histogram or {}).get("counts") or []
    if len(counts) == 0 or len(edges) != len(counts) + 1:
        return _unavailable(title)
    edges = np.asarray(edges, dtype=float)
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), showlegend=False,
                           marker_color=PALETTE["train"], marker_line={"color": "white", "width": 1},
                           hovertemplate="%{x:.2f}: %{y} slices<extra></extra>"))
    return _style(fig, title, x_title, "Slices")


def _add_operating_point(fig: go.Figure, x: float | None, y: float | None, threshold: float | None) -> None:
    if x is None or y is None:
        return
    label = "operating point" if threshold is None else f"threshold {threshold:.2f}"
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=label,
                             marker={"color": PALETTE["glioma"], "size": 12, "symbol": "x"}))


def make_binary_roc_figure(roc: Mapping, operating_point: Mapping | None = None, title: str = "ROC") -> go.Figure:
    """ROC of a yes/no model with its AUC and the chosen threshold at (1 - specificity, sensitivity).

    ``operating_point`` is a dict with ``threshold``, ``sensitivity`` and ``specificity`` (see
    :func:`core.present.summaries.operating_point`).
    """
    if not roc or not roc.get("fpr") or not roc.get("tpr"):
        return _unavailable(title)
    auc = roc.get("auc")
    fig = go.Figure(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", line={"color": PALETTE["train"], "width": 2},
                               name="ROC" if auc is None else f"ROC (AUC {auc:.3f})"))
    _add_diagonal(fig, "chance")
    point = operating_point or {}
    specificity = point.get("specificity")
    _add_operating_point(fig, None if specificity is None else 1 - specificity, point.get("sensitivity"),
                         point.get("threshold"))
    fig = _style(fig, title, "False positive rate (1 - specificity)", "Sensitivity", legend_at="bottom right")
    _unit_axes(fig)
    return fig


def make_pr_figure(pr: Mapping, operating_point: Mapping | None = None, title: str = "Precision-recall") -> go.Figure:
    """Precision against recall with the average precision, and the chosen threshold at (sensitivity, precision)."""
    if not pr or not pr.get("precision") or not pr.get("recall"):
        return _unavailable(title)
    ap = pr.get("average_precision")
    fig = go.Figure(go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines",
                               line={"color": PALETTE["train"], "width": 2},
                               name="PR" if ap is None else f"PR (AP {ap:.3f})"))
    point = operating_point or {}
    _add_operating_point(fig, point.get("sensitivity"), point.get("precision"), point.get("threshold"))
    fig = _style(fig, title, "Recall (sensitivity)", "Precision", legend_at="bottom left")
    _unit_axes(fig)
    return fig


def make_study_figure(trials: Sequence[Mapping], objective: str = "val_score",
                      title: str = "Study trials") -> go.Figure:
    """Parallel coordinates: one line per trial through its hyperparameters, coloured by the objective."""
    trials = [t for t in trials or [] if t.get(objective) is not None]
    if not trials:
        return _unavailable(title)
    names = [name for name in trials[0].get("params", {}) if all(name in t.get("params", {}) for t in trials)]
    dimensions = [_dimension(name, [t["params"][name] for t in trials]) for name in names]
    scores = [t[objective] for t in trials]
    dimensions.append({"label": metric_label(objective), "values": scores})
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line={"color": scores, "colorscale": "Blues",
                                                              "showscale": True}))
    fig = _style(fig, title)
    fig.update_layout(margin={"l": 70, "r": 70, "t": 90, "b": 40})
    return fig


def _dimension(name: str, values: list) -> dict:
    """A parallel-coordinates axis; booleans and text become ticks at integer positions."""
    label = name.replace("_", " ")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return {"label": label, "values": values}
    categories = sorted({str(v) for v in values})
    return {"label": label, "values": [categories.index(str(v)) for v in values],
            "tickvals": list(range(len(categories))), "ticktext": categories}


def make_slice_curve_figure(probabilities: Sequence[float | None], threshold: float | None = None,
                            shown: int | None = None, title: str = "Tumour probability per slice") -> go.Figure:
    """Tumour probability (0-1, shown as %) against slice index; None (a blank slice) leaves a gap in the line.

    ``threshold`` is drawn as the dashed presence line and ``shown`` as a vertical marker, so a reader sees at a
    glance which slices count as tumour-bearing and where the browser stands.
    """
    if not any(p is not None for p in probabilities):
        return _unavailable(title)
    fig = go.Figure(go.Scatter(x=list(range(len(probabilities))), y=list(probabilities), mode="lines+markers",
                               name="tumour probability", line={"color": PALETTE["train"], "width": 2},
                               marker={"size": 5}, connectgaps=False,
                               hovertemplate="slice %{x}: %{y:.1%}<extra></extra>"))
    if threshold is not None:
        fig.add_hline(y=threshold, line={"color": PALETTE["glioma"], "dash": "dash", "width": 1.5},
                      annotation_text=f"presence threshold {threshold:.1%}", annotation_position="top left")
    if shown is not None:
        fig.add_vline(x=shown, line={"color": "#1b1f24", "width": 1.5}, annotation_text=f"slice {shown}",
                      annotation_position="top right")
    fig = _style(fig, title, "Slice", "Tumour probability")
    fig.update_xaxes(range=[-0.5, len(probabilities) - 0.5])
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_layout(height=300, showlegend=False)
    return fig


Mesh = tuple[np.ndarray, np.ndarray]
"""A triangle surface: N x 3 float vertices (x, y, z) and M x 3 int vertex indices per triangle."""
TUMOUR_RED = "#e62828"
"""The overlay red of :data:`core.present.overlay.MASK_COLOR`, so the 3D tumour matches the slice view."""


def make_surface_figure(head: Mesh | None, tumour: Mesh | None, unit: str = "mm",
                        title: str = "Tumour (red) inside the head outline") -> go.Figure:
    """The tumour surface in red inside a translucent head surface, axes in ``unit`` and true proportions."""
    if head is None and tumour is None:
        return _unavailable(title)
    fig = go.Figure()
    for name, mesh, colour_, opacity in (("head", head, "#9aa0a6", 0.15), ("tumour", tumour, TUMOUR_RED, 1.0)):
        if mesh is not None:
            (x, y, z), (i, j, k) = mesh[0].T, mesh[1].T
            fig.add_trace(go.Mesh3d(x=x, y=y, z=z, i=i, j=j, k=k, name=name, color=colour_, opacity=opacity,
                                    showlegend=True, hoverinfo="skip", flatshading=False))
    if tumour is None:
        title = f"{title}: no tumour outlined"
    fig = _style(fig, title)
    axes = {f"{axis}axis": {"title": {"text": f"{label} ({unit})"}} for axis, label in
            (("x", "columns"), ("y", "rows"), ("z", "slices"))}
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 60, "b": 0},
                      scene={**axes, "aspectmode": "data", "camera": {"eye": {"x": 1.0, "y": -1.8, "z": 0.8}}})
    return fig
