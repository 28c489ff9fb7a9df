"""Every upload format the app reads, declared once as data.

The upload widget's file types, the sentence every error ends with ("please upload ..."), the Analyse page's
prompt and the display-window controls all read :data:`FORMATS`, so they cannot disagree. A new format is a reader
module in ``core/io/`` and one :class:`Format` line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.io import dicom, hdf5, nifti, raster
from core.io.scan import ScanSlice, SliceChoice, VolumeInfo


@dataclass(frozen=True)
class Format:
    """One reader and how the app speaks of it.

    Attributes:
        label: the format in error sentences, e.g. "a DICOM file".
        listed: how the list of accepted formats names it, e.g. ("NIfTI (.nii or .nii.gz)",).
        extensions: file name endings the upload widget offers, lower case, without the dot.
        windowed: the ``ScanSlice.source_format`` values it writes whose stored values are not display values, so
            a display window means something (none for JPEG-like images, whose pixels are display values).
        matches: checks the signature bytes only; never the file name.
        describe, read: the reader's :class:`VolumeInfo` and :class:`ScanSlice` functions.
    """

    label: str
    listed: tuple[str, ...]
    extensions: tuple[str, ...]
    windowed: tuple[str, ...]
    matches: Callable[[bytes], bool]
    describe: Callable[[bytes, str], VolumeInfo]
    read: Callable[[bytes, str, SliceChoice], ScanSlice]


RASTER = Format("an image", ("JPG", "PNG", "TIFF", "WebP", "BMP", "GIF"),
                ("jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif"), (),
                raster.is_raster, raster.describe_raster, raster.read_raster)
FORMATS = (
    Format("a DICOM file", ("DICOM",), ("dcm",), ("DICOM",), dicom.is_dicom, dicom.describe_dicom,
           dicom.read_dicom),
    # "gz" too, as browsers' file pickers match only the last suffix of "scan.nii.gz".
    Format("a NIfTI volume", ("NIfTI (.nii or .nii.gz)",), ("nii", "nii.gz", "gz"), ("NIfTI",), nifti.is_nifti,
           nifti.describe_nifti, nifti.read_nifti),
    Format("an HDF5 or MATLAB file", ("BraTS .h5", "figshare .mat"), ("h5", "mat"), ("BraTS HDF5", "figshare MAT"),
           hdf5.is_hdf5, hdf5.describe_hdf5, hdf5.read_hdf5),
    RASTER,
)
"""Readers in the order they are tried; DICOM comes first, as its 128-byte preamble may hold a TIFF header, and the
raster reader last, as Pillow is the most permissive."""


def one_of(names: tuple[str, ...]) -> str:
    """ "A, B or C": how a sentence offers a choice."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


ACCEPTED = f"a brain MRI as a {one_of(tuple(name for f in FORMATS for name in f.listed))} file"
"""What every error message offers instead: ``f"...; please upload {ACCEPTED}."``."""
ACCEPTED_EXTENSIONS = [extension for f in FORMATS for extension in f.extensions]
"""File name endings for the upload widget's ``type=``. The readers never look at the name, so a widget without
``type=`` also lets extension-less DICOM through."""
WINDOWED_FORMATS = tuple(name for f in FORMATS for name in f.windowed)
"""``source_format`` values whose stored values are not display values, so a display window means something."""
