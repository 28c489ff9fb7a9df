"""The real images the out-of-distribution guard is developed on, each tagged with its kind, family and source.

Two development sets sit in ``shared/data`` (their READMEs give sources and licences):

- ``non-brain-dev/``: medical and other images that are not brain MRI, one folder per kind (``mri_knee``,
  ``ct_abdomen``, ``ultrasound/msk``, ...); ``manifest.csv`` names each file's source repository.
- ``brain-mri-other/``: brain MRI slices from collections other than the Kaggle/BRISC ones, one folder per source.

The guard must hold on sources nobody here has seen, so whole **sources** (a source repository, i.e. one collection),
never single images, go to the held-out test split; it is chosen here once, before any result, to cover every
family (other-body MRI, CT, X-ray, ultrasound, photographs, documents) and several brain sequences. A source
that shares patients with a split elsewhere follows it: ``tcga_du7294_brainlesion`` is LGG patient TCGA_DU_7294.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from training.data import SHARED_DATA

NON_BRAIN_ROOT = SHARED_DATA / "non-brain-dev"
BRAIN_OTHER_ROOT = SHARED_DATA / "brain-mri-other"
BRAIN = "brain_mri"
KIND_FAMILIES = {"mri": "mri_other_body", "ct": "ct", "xray": "xray", "mammography": "xray",
                 "ultrasound": "ultrasound", "documents": "document"}
"""Family of a ``non-brain-dev`` kind, by the kind's first word; every other kind is a photograph or micrograph."""
DICOM_FAMILIES = {"CT": "ct", "nuclear": "xray", "ultrasound": "ultrasound", "MR": "mri_other_body"}
"""The ``dicom/`` folder mixes modalities: the family follows the manifest label's first matching word."""
HELD_OUT_NON_BRAIN = frozenset({
    "jeremyswisher13/kneemri",  # knee, shoulder, hip and elbow MRI, and musculoskeletal ultrasound
    "sarah-antillia/TensorFlow-FlexUNet-Image-Segmentation-Prostate158-Prostate-Tumor-T2",
    "sarah-antillia/TensorFlow-FlexUNet-Image-Segmentation-KiTS19-Kidney-Tumor",  # abdominal CT
    "sarah-antillia/Tensorflow-Image-Segmentation-2D-Lung",  # chest CT, lung window
    "mlmed/torchxrayvision",  # chest X-rays
    "vsoch/boneage",  # hand X-rays
    "theidentity/MammogramVisualization",
    "sarah-antillia/TensorFlow-FlexUNet-Image-Segmentation-Drishti-Glaucoma",  # fundus
    "sarah-antillia/TensorFlow-FlexUNet-Image-Segmentation-EBHI-Colorectal-Cancer",  # histology
    "abhi-t11/Skin-Lesion-Classification_Group7_FinalProject",  # dermoscopy
    "sarah-antillia/Tensorflow-Image-Segmentation-Alzheimer-s-Disease",  # OCT angiography
    "tesseract-ocr/test",  # document scans
    "cszn/FFDNet",  # colour test photographs
})
"""Source repositories of ``non-brain-dev`` kept aside as the guard's own test: never fitted or thresholded on."""
HELD_OUT_BRAIN = frozenset({"ixi_nichart", "fullhead_t1w_stroke_sarah", "brats2018_deepvoxnet2", "mets_t2w_sarah"})
"""Folders of ``brain-mri-other`` kept aside as the guard's own test (healthy low-resolution T1, full-head T1W of
stroke patients, skull-stripped BraTS 2018 FLAIR and T1, T2W with metastases)."""
LINKED_TO_LGG = {"tcga_du7294_brainlesion": "TCGA_DU_7294"}
"""``brain-mri-other`` folders whose patient is also in ``lgg-kaggle_3m``: they follow that patient's split."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")


@dataclass(frozen=True)
class GuardImage:
    """One development image: its file, what it shows and where it comes from.

    ``kind`` is the folder (``mri_knee``; for brain MRI the source folder and sequence, ``ixi_nichart/t1``),
    ``family`` a key of :data:`core.models.ood.FAMILY_PHRASES` or :data:`BRAIN`, ``source`` the collection the held-out
    split is drawn by.
    """

    path: Path
    kind: str
    family: str
    source: str
    held_out: bool


def non_brain_family(kind: str, label: str) -> str:
    """Family of a ``non-brain-dev`` file from its kind folder and, for ``dicom/``, its manifest label."""
    if kind == "dicom":
        return next(family for word, family in DICOM_FAMILIES.items() if word in label)
    return KIND_FAMILIES.get(kind.split("_")[0].split("/")[0], "photo_or_microscopy")


def list_non_brain(root: Path = NON_BRAIN_ROOT) -> list[GuardImage]:
    """Every image of ``non-brain-dev``, in manifest order."""
    with open(Path(root) / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    images = []
    for row in rows:
        kind = row["file"].rsplit("/", 1)[0]
        images.append(GuardImage(Path(root) / row["file"], kind, non_brain_family(kind, row["label"]), row["repo"],
                                 row["repo"] in HELD_OUT_NON_BRAIN))
    return images


def list_brain_other(root: Path = BRAIN_OTHER_ROOT,
                     lgg_test_patients: frozenset[str] = frozenset()) -> list[GuardImage]:
    """The 2D brain slices of ``brain-mri-other`` (not its masks or volumes), sorted by path.

    ``lgg_test_patients`` are the LGG patient ids of the network's test split, so a linked folder whose patient is
    among them is held out too.
    """
    images = []
    for path in sorted(Path(root).glob("*/*/*/**/*")):
        source, label, *rest = path.relative_to(root).parts
        if source == "volumes" or label == "masks" or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        patient = LINKED_TO_LGG.get(source)
        held_out = source in HELD_OUT_BRAIN or (patient is not None
                                                and any(p.startswith(patient) for p in lgg_test_patients))
        images.append(GuardImage(path, f"{source}/{rest[0]}", BRAIN, source, held_out))
    return images
