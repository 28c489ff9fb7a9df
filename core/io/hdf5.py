"""HDF5 slices through h5py: BraTS-style ``.h5`` slices and figshare-style MATLAB v7.3 ``.mat`` files.

- BraTS ``.h5`` (as in the Kaggle "BraTS2020 training data" slices): dataset ``image`` H x W x C (four MRI
  sequences) and optional ``mask`` H x W or H x W x K (tumour sub-regions). The files do not record which channel
  is which sequence, so channels are offered by number and channel 0 is the default.
- figshare ``.mat`` (Cheng et al. 2015, "brain tumor dataset"): group ``cjdata`` with ``image``, ``tumorMask``
  and ``label`` (1 meningioma, 2 glioma, 3 pituitary). MATLAB writes arrays column-major, so HDF5 holds them
  transposed; they are transposed back here.

Any mask is binarised (any region or channel > 0 becomes 1), the ``ScanSlice.mask`` convention.
"""

from __future__ import annotations

import io

import h5py
import numpy as np

from core.io.errors import InputError
from core.io.scan import (
    ScanSlice,
    SliceChoice,
    VolumeInfo,
    choose_index,
    choose_window,
    to_display,
    validate_dimensions,
    validate_volume,
)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MATLAB_HEADER_SIZE = 512
"""MATLAB v7.3 files start with a 512-byte text header (an HDF5 user block) before the HDF5 signature."""
FIGSHARE_LABELS = {1: "meningioma", 2: "glioma", 3: "pituitary"}
"""figshare ``cjdata.label`` codes, named like the Kaggle 4-class folders."""


def is_hdf5(data: bytes) -> bool:
    """True for an HDF5 file, bare or behind a MATLAB v7.3 header."""
    return data.startswith(HDF5_SIGNATURE) or data[MATLAB_HEADER_SIZE : MATLAB_HEADER_SIZE + 8] == HDF5_SIGNATURE


def describe_hdf5(data: bytes, name: str) -> VolumeInfo:
    """Shape and channels of the slice, from the dataset headers (a figshare slice has nothing to choose)."""
    with h5py.File(io.BytesIO(data), "r") as file:
        image, source_format = _image_dataset(file, name)
        shape = tuple(int(n) for n in image.shape)
    if source_format == "figshare MAT":
        return VolumeInfo(shape=shape[::-1], axes=("row", "column"), source_format=source_format)
    channels = shape[2] if len(shape) == 3 else 1
    return VolumeInfo(
        shape=shape,
        axes=("row", "column", "channel")[: len(shape)],
        channels=tuple(f"channel {c}" for c in range(channels)) if channels > 1 else (),
        default=SliceChoice(channel=0),
        source_format=source_format,
    )


def read_hdf5(data: bytes, name: str, choice: SliceChoice) -> ScanSlice:
    """Read the slice (channel ``choice.channel`` of a BraTS file) and its mask, if any."""
    with h5py.File(io.BytesIO(data), "r") as file:
        image, source_format = _image_dataset(file, name)
        if source_format == "figshare MAT":
            return _read_figshare(file["cjdata"], image, name, choice)
        return _read_brats(file, image, name, choice)


def _image_dataset(file: h5py.File, name: str) -> tuple[h5py.Dataset, str]:
    """The image dataset and format name, with its declared shape and type checked before any value is read."""
    group = file.get("cjdata")
    image = group.get("image") if isinstance(group, h5py.Group) else file.get("image")
    if not isinstance(image, h5py.Dataset):
        raise InputError(
            f"{name} is an HDF5 file without a BraTS 'image' dataset or a figshare 'cjdata' group; "
            "please upload a BraTS .h5 slice, a figshare .mat file or an image."
        )
    figshare = isinstance(group, h5py.Group)
    if image.ndim not in ((2,) if figshare else (2, 3)) or image.dtype.kind not in "biuf":
        raise InputError(
            f"{name} holds a {image.ndim}D {image.dtype} image; please upload an H x W or H x W x channels slice."
        )
    height, width = image.shape[1::-1] if figshare else image.shape[:2]  # MATLAB arrays arrive transposed
    validate_dimensions(width, height, name)
    validate_volume(image.shape, name)
    return image, "figshare MAT" if figshare else "BraTS HDF5"


def _read_brats(file: h5py.File, image: h5py.Dataset, name: str, choice: SliceChoice) -> ScanSlice:
    channels = image.shape[2] if image.ndim == 3 else 1
    channel = choose_index(choice.channel, channels, 0, "channel", name)
    raw = image[:, :, channel] if image.ndim == 3 else image[()]  # reads this channel only
    pixels = to_display(np.asarray(raw, dtype=np.float32), name, choose_window(choice, None, name))
    mask = _read_mask(file.get("mask"), pixels.shape, name, transposed=False)
    return ScanSlice(pixels=pixels, mask=mask, source_format="BraTS HDF5")


def _read_figshare(group: h5py.Group, image: h5py.Dataset, name: str, choice: SliceChoice) -> ScanSlice:
    raw = np.asarray(image[()], dtype=np.float32).T
    pixels = to_display(raw, name, choose_window(choice, None, name))
    mask = _read_mask(group.get("tumorMask"), pixels.shape, name, transposed=True)
    label = group.get("label")
    code = int(np.asarray(label[()]).ravel()[0]) if isinstance(label, h5py.Dataset) and label.size else None
    return ScanSlice(pixels=pixels, mask=mask, source_format="figshare MAT", label=FIGSHARE_LABELS.get(code))


def _read_mask(dataset: object, shape: tuple[int, ...], name: str, transposed: bool) -> np.ndarray | None:
    """H x W uint8 {0, 1} mask from a label map or per-region channels, or None when the file has none."""
    if not isinstance(dataset, h5py.Dataset):
        return None
    expected = shape[::-1] if transposed else shape
    if dataset.ndim not in (2, 3) or tuple(dataset.shape[:2]) != tuple(expected):
        raise InputError(
            f"{name} has a {'x'.join(map(str, dataset.shape))} mask that does not match its "
            f"{'x'.join(map(str, shape))} image; please upload a file whose mask covers the image."
        )
    validate_volume(dataset.shape, name)
    values = np.asarray(dataset[()]) > 0
    mask = values.any(axis=2) if values.ndim == 3 else values
    return (mask.T if transposed else mask).astype(np.uint8)
