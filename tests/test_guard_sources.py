"""The guard's development sets: every image has a family, and held-out sources never share a source with the rest."""

from __future__ import annotations

import pytest

from core.models.ood import FAMILY_PHRASES
from training.guard_sources import (
    BRAIN,
    BRAIN_OTHER_ROOT,
    NON_BRAIN_ROOT,
    list_brain_other,
    list_non_brain,
    non_brain_family,
)

needs_data = pytest.mark.skipif(not (NON_BRAIN_ROOT.exists() and BRAIN_OTHER_ROOT.exists()),
                                reason="../shared/data/non-brain-dev or brain-mri-other is absent")


@pytest.mark.parametrize(("kind", "label", "family"), [
    ("mri_knee", "", "mri_other_body"), ("ct_abdomen", "", "ct"), ("xray_hand", "", "xray"),
    ("mammography", "", "xray"), ("ultrasound/msk", "", "ultrasound"), ("documents", "", "document"),
    ("fundus", "", "photo_or_microscopy"), ("dicom", "DICOM CT head (axial)", "ct"),
    ("dicom", "DICOM MR abdomen/liver with overlay", "mri_other_body"), ("dicom", "DICOM ultrasound", "ultrasound")])
def test_family_follows_the_kind_folder_and_for_dicom_the_label(kind: str, label: str, family: str) -> None:
    assert non_brain_family(kind, label) == family


@needs_data
def test_held_out_non_brain_sources_cover_every_family_and_share_no_source_with_development() -> None:
    images = list_non_brain()
    assert {image.family for image in images} == set(FAMILY_PHRASES)
    held_out = {image.source for image in images if image.held_out}
    assert held_out.isdisjoint({image.source for image in images if not image.held_out})
    assert {image.family for image in images if image.held_out} == set(FAMILY_PHRASES)


@needs_data
def test_brain_sources_are_held_out_whole_and_a_linked_patient_follows_its_lgg_split() -> None:
    free = list_brain_other()
    assert all(image.family == BRAIN for image in free)
    by_source = {}
    for image in free:
        by_source.setdefault(image.source, set()).add(image.held_out)
    assert all(len(flags) == 1 for flags in by_source.values())
    assert not by_source["tcga_du7294_brainlesion"].pop()
    linked = list_brain_other(lgg_test_patients=frozenset({"TCGA_DU_7294_19890104"}))
    assert all(image.held_out for image in linked if image.source == "tcga_du7294_brainlesion")
