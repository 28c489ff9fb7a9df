"""A study as one stack of display slices, its geometry, and NIfTI volumes read whole in a canonical orientation.

Every reader (NIfTI here, DICOM series in :mod:`.series`) returns a :class:`Volume` whose slices are exactly what the
single-slice path (:func:`core.io.read.read_scan`) shows for that slice, so a slice analysed within a study gets the
same answer as the same slice uploaded alone. A volume whose geometry is missing or inconsistent is still shown slice by
slice, but carries a ``geometry_note`` and is not measured: a volume in ml from a wrong voxel size would look as
trustworthy as a right one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, io_orientation, ornt_transform

from core.io.errors import InputError
from core.io.nifti import MM_PER_UNIT, header_bytes, nifti_class, open_nifti, volume_layout
from core.io.scan import ScanSlice, SliceChoice, choose_window, to_display, validate_dimensions

NIFTI_DISPLAY_ORNT = np.array([[2, 1], [1, -1], [0, -1]], dtype=float)
"""World direction of the display axes of a NIfTI study (nibabel orientation rows: world axis, sign): slices run foot
to head, rows front to back, columns from the patient's right to left, the radiological view of :mod:`core.io.nifti`."""
RAS_ORNT = np.array([[0, 1], [1, 1], [2, 1]], dtype=float)


@dataclass(frozen=True, eq=False)
class Volume:
    """One study, ready to show and analyse.

    Attributes:
        name: the study's name in messages and results.
        pixels: S x H x W float32 display slices in [0, 1], in order along the slice normal.
        blank: S bools: slices that are constant in the file (volume ends, padding). They hold zeros and are not
            analysed, as the single-slice path refuses a constant slice.
        pixel_spacing_mm: (row, column) spacing when the file states it, as ``ScanSlice.pixel_spacing_mm``.
        slice_spacing_mm: distance between neighbouring slices along their normal, None when unknown.
        geometry_note: None, or one sentence saying why the volume is not measured.
        affine: 4 x 4 RAS+ affine (nibabel's convention) of the input's voxel grid, None when it is unknown.
        grid_ornt: nibabel orientation taking the display axes (slice, row, column) to the input's voxel axes.
        source_format: "NIfTI" or "DICOM".
        header: the NIfTI input's header, so a mask written for it keeps its units and codes; None for DICOM.
    """

    name: str
    pixels: np.ndarray
    blank: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    geometry_note: str | None
    affine: np.ndarray | None
    grid_ornt: np.ndarray
    source_format: str
    header: nib.Nifti1Header | None = None

    @property
    def voxel_volume_ml(self) -> float | None:
        """Volume of one voxel in ml (1 ml = 1000 mm³), None when the volume is not measured."""
        if self.geometry_note is not None or self.pixel_spacing_mm is None or self.slice_spacing_mm is None:
            return None
        return self.pixel_spacing_mm[0] * self.pixel_spacing_mm[1] * self.slice_spacing_mm / 1000.0

    def slice(self, index: int) -> ScanSlice:
        """Slice ``index`` as the single-slice path returns it, e.g. for :func:`core.models.analysis.analyze`."""
        return ScanSlice(self.pixels[index], self.pixel_spacing_mm, source_format=self.source_format)


def display_slices(planes: np.ndarray, name: str, window: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """S x H x W stored values -> (display slices in [0, 1], blank flags), each slice by :func:`to_display`.

    Raises:
        InputError: non-finite values anywhere, slices too small, or no slice with any content.
    """
    validate_dimensions(planes.shape[2], planes.shape[1], name)
    if not np.isfinite(planes).all():
        raise InputError(f"{name} contains NaN or infinite voxel values; please upload a valid MRI volume.")
    blank = np.array([float(plane.max()) - float(plane.min()) < 1e-6 for plane in planes], dtype=bool)
    if blank.all():
        raise InputError(f"{name} is a constant volume with no anatomy in it; please upload a brain MRI volume.")
    pixels = np.zeros(planes.shape, dtype=np.float32)
    for index in np.flatnonzero(~blank):
        pixels[index] = to_display(planes[index], name, window)
    return pixels, blank


def read_nifti_volume(data: bytes, name: str, choice: SliceChoice | None = None) -> Volume:
    """A NIfTI-1/-2 volume (first time point of a 4D one) as axial display slices of its closest canonical (RAS+)
    orientation (``nib.as_closest_canonical``), foot to head; ``choice`` may carry a display window.

    Raises:
        InputError: as :func:`core.io.read.read_scan` for NIfTI files, and for volumes without any non-constant slice.
    """
    image = open_nifti(data, name)
    spatial, frames = volume_layout(image.shape)
    stored = np.asarray(image.dataobj.reshape((*spatial, frames))[..., 0], dtype=np.float32)
    note = _orientation_note(image.affine)
    oriented = note is None
    if oriented:
        ornt = io_orientation(image.affine)
        canonical = np.asarray(nib.as_closest_canonical(nib.Nifti1Image(stored, image.affine)).dataobj)
    else:  # no usable orientation: voxel axes are taken as RAS, as core.io.nifti does
        ornt, canonical = RAS_ORNT, stored
    planes = apply_orientation(canonical, ornt_transform(RAS_ORNT, NIFTI_DISPLAY_ORNT))
    window = choose_window(choice or SliceChoice(), None, name)
    pixels, blank = display_slices(planes, name, window)
    slice_mm, row_mm, column_mm = _voxel_sizes(image, ornt)
    declared = _declared_zooms(data)[: min(len(image.shape), 3)]
    if note is None and not all(np.isfinite(size) and size != 0 for size in declared):
        note = "The NIfTI header gives no voxel size (pixdim is zero), so the volume is not measured."
    return Volume(
        name=name, pixels=pixels, blank=blank, slice_spacing_mm=slice_mm,
        pixel_spacing_mm=None if row_mm is None or column_mm is None else (row_mm, column_mm),
        geometry_note=note, affine=np.asarray(image.affine, dtype=float) if oriented else None,
        grid_ornt=ornt_transform(NIFTI_DISPLAY_ORNT, ornt), source_format="NIfTI", header=image.header,
    )


def mask_image(volume: Volume, mask: np.ndarray) -> nib.Nifti1Image:
    """An S x H x W display-grid mask as a uint8 NIfTI image in the input's voxel grid, with the input's affine.

    Raises:
        ValueError: the volume's affine is unknown (a DICOM series with broken geometry), so no grid to write in.
    """
    if volume.affine is None:
        raise ValueError(f"{volume.name} has no known voxel grid to write a mask in.")
    grid = apply_orientation(np.asarray(mask, dtype=np.uint8), volume.grid_ornt).astype(np.uint8)
    if volume.header is None:  # from DICOM: scanner coordinates in mm
        image = nib.Nifti1Image(grid, volume.affine)
        image.set_qform(volume.affine, code=1)
        image.set_sform(volume.affine, code=1)
        image.header.set_xyzt_units("mm")
        return image
    image_class = nib.Nifti2Image if isinstance(volume.header, nib.Nifti2Header) else nib.Nifti1Image
    image = image_class(grid, volume.affine, volume.header)
    image.set_data_dtype(np.uint8)
    return image


def _voxel_sizes(image: nib.Nifti1Image, ornt: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(slice, row, column) voxel size in mm along the display axes; None where the header gives no positive size."""
    mm = MM_PER_UNIT.get(image.header.get_xyzt_units()[0], 1.0)
    zooms = (*image.header.get_zooms()[:3], 1.0, 1.0)[:3]  # a 2D image is one slice thick
    by_world = {int(world): float(zooms[axis]) * mm for axis, world in enumerate(ornt[:, 0])}
    return tuple(by_world[world] if np.isfinite(by_world[world]) and by_world[world] > 0 else None
                 for world in (2, 1, 0))


def _declared_zooms(data: bytes) -> np.ndarray:
    """pixdim[1:4] as the file writes it. nibabel replaces a zero voxel size by 1 when it loads a file, which would
    make an unknown size look like 1 mm, so the header is parsed again here without its fixes."""
    head = header_bytes(data)
    header = nifti_class(head).header_class.from_fileobj(io.BytesIO(head), check=False)
    return np.asarray(header["pixdim"][1:4], dtype=float)


def _orientation_note(affine: np.ndarray) -> str | None:
    """The sentence for an affine that gives no orientation (not finite or singular), else None."""
    rotation = np.asarray(affine, dtype=float)[:3, :3]
    if np.isfinite(rotation).all() and abs(float(np.linalg.det(rotation))) > 1e-12:
        return None
    return "The NIfTI header's affine is singular or not finite, so the orientation is unknown and the volume is " \
        "not measured."
