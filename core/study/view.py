"""What the Study page shows, computed without Streamlit so it can be tested and timed directly.

:func:`open_study` reads and analyses an upload once; the page keeps the :class:`StudyView` it returns for the
session. Browsing then only draws the shown slice (:func:`slice_panels`) and moves the curve's marker: the 3D
surfaces are computed once per view and a heatmap once per slice, when the user asks for it. Uploads arrive as
bytes and stay in memory.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from scipy import ndimage
from skimage.measure import marching_cubes

from core.app.session_results import Panel
from core.models.gradcam import can_explain, default_method, gradcam_heatmap
from core.models.registry import LoadedModel
from core.present.figures import Mesh, make_slice_curve_figure, make_surface_figure
from core.present.findings import format_percent
from core.present.overlay import overlay_heatmap, overlay_mask, png_bytes, to_rgb
from core.present.summaries import class_label
from core.study.analyse import StudyResult, analyse_study
from core.study.upload import Upload, read_study
from core.study.volume import Volume

HEAD_LEVEL = 0.1
"""Display intensity above which a voxel counts as head for the outline (background is near 0 after windowing)."""
HEAD_GRID = 64
"""At most this many samples per axis for the head surface: an outline for orientation, cheap to draw."""
TUMOUR_GRID = 96
"""At most this many samples per axis of the tumour's bounding box; smaller tumours keep every voxel."""
SLIDER_TARGET_MS = 300.0
BLANK_NOTE = "This slice is constant in the file (blank), so it was not analysed."


@dataclass(frozen=True, eq=False)
class StudyView:
    """One analysed upload: its volume, the study result and the network, with per-slice heatmaps memoised."""

    key: str
    title: str
    volume: Volume
    result: StudyResult
    model: LoadedModel
    heatmaps: dict[int, np.ndarray | None] = field(default_factory=dict, repr=False)

    @property
    def slices(self) -> int:
        return len(self.volume.pixels)

    @property
    def description(self) -> str:
        """What was read, e.g. "cube.nii: NIfTI study, 8 slices of 64 x 64 pixels"."""
        height, width = self.volume.pixels.shape[1:]
        return f"{self.title}: {self.volume.source_format} study, {self.slices} slices of {width} x {height} pixels"

    @property
    def threshold(self) -> float:
        """The card's presence threshold on the tumour probability, drawn on the curve."""
        return float(self.model.card["presence"]["threshold"])

    @property
    def heatmap_method(self) -> str:
        return default_method(self.model)

    @property
    def focus_slice(self) -> int:
        """Where browsing starts: the largest tumour slice, else the most suspicious one."""
        return focus_slice(self.result)

    def heatmap(self, index: int) -> np.ndarray | None:
        """The card's default heatmap of slice ``index`` (H x W in [0, 1]), computed on first request only; None for
        a blank slice or a network without a heatmap layer."""
        if index not in self.heatmaps:
            explainable = not self.volume.blank[index] and can_explain(self.model)
            self.heatmaps[index] = gradcam_heatmap(self.model, self.volume.pixels[index]) if explainable else None
        return self.heatmaps[index]

    @functools.cached_property
    def surface_figure(self) -> go.Figure:
        """The 3D view, built once: it does not change while browsing."""
        spacing, unit = surface_spacing(self.volume)
        head = head_surface(self.volume.pixels, spacing)
        return make_surface_figure(head, tumour_surface(self.result.mask, spacing), unit)


@dataclass(frozen=True)
class Measure:
    """One number the study page shows as a metric and the report as a table row."""

    label: str
    value: str
    detail: str | None = None


def upload_key(files: Sequence[Upload]) -> str:
    """SHA-256 over every file's name and content: the upload's cache key."""
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(hashlib.sha256(name.encode()).digest() + hashlib.sha256(data).digest())
    return digest.hexdigest()


def open_study(files: Sequence[Upload], model: LoadedModel, series_uid: str | None = None) -> StudyView:
    """Read the upload (one NIfTI volume, DICOM files or a zip) and analyse every slice.

    Raises:
        SeriesChoiceError: several DICOM series and no ``series_uid``.
        InputError: anything else wrong with the upload, in one sentence.
    """
    volume = read_study(files, series_uid=series_uid)
    title = files[0][0] if len(files) == 1 else f"{len(files)} uploaded files"
    return StudyView(upload_key(files), title, volume, analyse_study(volume, model), model)


def focus_slice(result: StudyResult) -> int:
    """The largest tumour slice, else the one with the highest tumour probability (blank slices never)."""
    if result.largest_slice is not None:
        return result.largest_slice
    probabilities = [-1.0 if p is None else p for p in result.per_slice_tumour_probability]
    return int(np.argmax(probabilities))


def key_slices(result: StudyResult) -> list[int]:
    """The focus slice and its neighbours (fewer at the ends of the stack), in order."""
    centre, count = focus_slice(result), len(result.readings)
    return [index for index in (centre - 1, centre, centre + 1) if 0 <= index < count]


def study_measures(volume: Volume, result: StudyResult) -> list[Measure]:
    """Volume, voxel volume, slices, largest slice, type and highest tumour probability, formatted for reading.

    Physical sizes appear only when the volume is measured; otherwise ``geometry_note`` says why and the largest
    slice is given in pixels.
    """
    analysed = int((~volume.blank).sum())
    measures = []
    if result.tumour_volume_ml is not None:
        row_mm, column_mm = volume.pixel_spacing_mm
        measures += [
            Measure("Tumour volume", f"{result.tumour_volume_ml:,.2f} ml", f"{int(result.mask.sum()):,} voxels"),
            Measure("Voxel volume", f"{result.voxel_volume_ml:.4g} ml",
                    f"{row_mm:g} x {column_mm:g} x {volume.slice_spacing_mm:g} mm"),
        ]
    measures.append(Measure("Slices", f"{len(volume.pixels)}", f"{analysed} analysed, "
                                                                 f"{len(volume.pixels) - analysed} blank"))
    measures.append(_largest_slice(result))
    if result.tumour_present:
        confidence = format_percent(result.probabilities[result.type])
        measures.append(Measure("Tumour type", class_label(result.type),
                                f"{confidence} over the tumour-bearing slices"))
    else:
        measures.append(Measure("Tumour type", class_label(result.type), "no slice shows a tumour"))
    measures.append(Measure("Highest tumour probability", format_percent(result.tumour_probability, 1),
                            f"on slice {int(np.nanargmax(_probabilities(result)))}"))
    return measures


def _largest_slice(result: StudyResult) -> Measure:
    index = result.largest_slice
    if index is None:
        return Measure("Largest tumour slice", "none", "no tumour outlined on any slice")
    if result.largest_area_mm2 is None:
        return Measure("Largest tumour slice", f"slice {index}", f"{int(result.mask[index].sum()):,} px")
    return Measure("Largest tumour slice", f"slice {index}",
                   f"{result.largest_area_mm2:,.1f} mm², largest diameter {result.largest_diameter_mm:,.1f} mm")


def _probabilities(result: StudyResult) -> np.ndarray:
    return np.array([np.nan if p is None else p for p in result.per_slice_tumour_probability])


def slice_caption(view: StudyView, index: int) -> str:
    """One line on the shown slice: its tumour probability and outlined area."""
    reading, where = view.result.readings[index], f"Slice {index} (0 to {view.slices - 1})"
    if reading is None:
        return f"{where}: {BLANK_NOTE}"
    area = int(reading.mask.sum())
    spacing = view.volume.pixel_spacing_mm if view.result.voxel_volume_ml is not None else None
    size = f"{area:,} px" if spacing is None else f"{area:,} px ({area * spacing[0] * spacing[1]:,.1f} mm²)"
    verdict = "tumour present" if reading.tumour_present else "no tumour"
    return (f"{where}: {verdict}, tumour probability {format_percent(reading.tumour_probability, 1)}, "
            f"outlined area {size}.")


def slice_panels(view: StudyView, index: int, show_mask: bool = True, heatmap: bool = False) -> list[Panel]:
    """Original | tumour overlay (| heatmap, when asked for) of slice ``index``."""
    pixels, reading = view.volume.pixels[index], view.result.readings[index]
    panels = [Panel(f"Slice {index}", to_rgb(pixels))]
    if reading is None:
        return [*panels, Panel("Tumour region", None, BLANK_NOTE)]
    caption = "Tumour region (red)" if show_mask else "Tumour region (overlay off)"
    panels.append(Panel(caption, overlay_mask(pixels, reading.mask if show_mask else None)))
    if heatmap:
        cam = view.heatmap(index)
        caption = f"Where the network looked ({view.heatmap_method})"
        panels.append(Panel(caption, None, "This network has no heatmap layer.") if cam is None
                      else Panel(caption, overlay_heatmap(pixels, cam)))
    return panels


def slice_curve_figure(view: StudyView, shown: int | None) -> go.Figure:
    return make_slice_curve_figure(view.result.per_slice_tumour_probability, view.threshold, shown)


def surface_spacing(volume: Volume) -> tuple[tuple[float, float, float], str]:
    """(slice, row, column) spacing and its unit: mm when the volume is measured, else voxels."""
    if volume.voxel_volume_ml is None:
        return (1.0, 1.0, 1.0), "voxels"
    return (volume.slice_spacing_mm, *volume.pixel_spacing_mm), "mm"


def head_surface(pixels: np.ndarray, spacing: tuple[float, float, float]) -> Mesh | None:
    """A smooth, low-resolution surface around every voxel brighter than :data:`HEAD_LEVEL`, holes filled so
    dark structures inside the head (ventricles, CSF) add no inner surfaces."""
    factors = _factors(pixels.shape, HEAD_GRID)
    head = ndimage.binary_fill_holes(_pool(pixels, factors, np.mean) > HEAD_LEVEL)
    return _surface(ndimage.gaussian_filter(head.astype(np.float32), 1.0), factors, spacing, (0, 0, 0))


def tumour_surface(mask: np.ndarray, spacing: tuple[float, float, float]) -> Mesh | None:
    """The surface of the tumour mask, from its bounding box; a block holding any tumour voxel counts as tumour,
    so a small tumour never disappears when a large one is coarsened."""
    found = np.argwhere(mask)
    if not len(found):
        return None
    start, stop = found.min(axis=0), found.max(axis=0) + 1
    box = mask[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]
    factors = _factors(box.shape, TUMOUR_GRID)
    return _surface(_pool(box, factors, np.max).astype(np.float32), factors, spacing, tuple(start))


def _factors(shape: Sequence[int], grid: int) -> tuple[int, ...]:
    return tuple(max(1, math.ceil(n / grid)) for n in shape)


def _pool(values: np.ndarray, factors: Sequence[int], reduce: Callable) -> np.ndarray:
    """``values`` reduced over blocks of ``factors`` voxels (edges padded with zeros)."""
    padded = np.pad(values, [(0, -n % f) for n, f in zip(values.shape, factors, strict=True)])
    shape = [size for n, f in zip(padded.shape, factors, strict=True) for size in (n // f, f)]
    return reduce(padded.reshape(shape), axis=(1, 3, 5))


def _surface(grid: np.ndarray, factors: Sequence[int], spacing: Sequence[float],
             start: Sequence[int]) -> Mesh | None:
    """Marching cubes at 0.5 on a pooled grid -> vertices (x, y, z) = (column, row, slice) in ``spacing`` units.

    The grid is padded by one empty block, so the surface closes where the object touches the volume's edge.
    """
    padded = np.pad(grid, 1)
    if padded.max() <= 0.5:
        return None
    step = np.array(factors, dtype=float) * np.array(spacing, dtype=float)
    vertices, faces, _, _ = marching_cubes(padded, 0.5, spacing=tuple(step))
    # Block centres: one padding block back, then the block's middle voxel, then the crop's offset.
    vertices += (np.array(start) + (np.array(factors) - 1) / 2) * np.array(spacing) - step
    return vertices[:, ::-1].astype(np.float32), faces.astype(np.int32)


def benchmark_study_view(view: StudyView, moves: int = 20, seed: int = 0) -> dict:
    """Time what one slider move computes: the slice panels with the overlay, their PNG encoding, and the curve
    with its new marker serialised to JSON (what Streamlit sends to the browser).

    Returns:
        ``moves``, ``median_ms``, ``max_ms``, ``target_ms`` and ``target_met`` (median within the target).
    """
    indices = np.random.default_rng(seed).integers(0, view.slices, moves)
    times = []
    for index in indices:
        start = time.perf_counter()
        for panel in slice_panels(view, int(index)):
            if panel.image is not None:
                png_bytes(panel.image)
        slice_caption(view, int(index))
        slice_curve_figure(view, int(index)).to_json()
        times.append((time.perf_counter() - start) * 1000.0)
    median = float(np.median(times))
    return {"moves": moves, "median_ms": round(median, 1), "max_ms": round(max(times), 1),
            "target_ms": SLIDER_TARGET_MS, "target_met": median <= SLIDER_TARGET_MS}
