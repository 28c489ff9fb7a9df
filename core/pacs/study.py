"""A series a PACS sent, analysed as a study, or only the slices a user chose, straight from its data sets.

The instances go through the same grouping, ordering and geometry checks as uploaded DICOM files
(:func:`core.study.series.group_series`, :func:`~core.study.series.read_series`), so a series gives the same numbers
fetched from a PACS as uploaded; and each slice of the volume keeps its source instance, so a SEG made from the mask
references exactly the image each mask frame was computed on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from core.models.registry import LoadedModel
from core.pacs.client import PacsClient, SeriesListing, check_analysable
from core.pacs.connection import PacsError
from core.study.analyse import analyse_study
from core.study.series import group_series, read_series, series_layout
from core.study.view import StudyView

RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


@dataclass(frozen=True, eq=False)
class SeriesAnalysis:
    """One analysed series: its UIDs, the source instance of each slice (in the volume's order) and the view
    (volume, result, network) the page shows."""

    study_uid: str
    series_uid: str
    sources: tuple[Dataset, ...]
    view: StudyView


def parse_instance_numbers(text: str) -> list[int]:
    """"3-7, 10" -> [3, 4, 5, 6, 7, 10]: the InstanceNumbers of the slices a user chose.

    Raises:
        PacsError: anything other than comma-separated numbers and ranges.
    """
    numbers: set[int] = set()
    for part in text.split(","):
        match = RANGE.match(part)
        if match is None:
            raise PacsError(f"{part.strip() or 'An empty entry'} is not an instance number or range; please write "
                            "numbers and ranges such as 3-7, 10.")
        first, last = int(match[1]), int(match[2] or match[1])
        numbers.update(range(min(first, last), max(first, last) + 1))
    return sorted(numbers)


def choose_instances(instances: Sequence[Dataset], numbers: Sequence[int], name: str) -> list[Dataset]:
    """The instances whose InstanceNumber is one of ``numbers``.

    Raises:
        PacsError: none of them is in the series.
    """
    wanted = set(numbers)
    chosen = [ds for ds in instances if _instance_number(ds) in wanted]
    if not chosen:
        present = sorted(n for n in map(_instance_number, instances) if n is not None)
        held = f"instances {present[0]} to {present[-1]}" if present else "no numbered instances"
        raise PacsError(f"None of the chosen instance numbers is in {name}, which holds {held}.")
    return chosen


def fetch_and_analyse(client: PacsClient, study_uid: str, series: SeriesListing, model: LoadedModel,
                      instance_numbers: Sequence[int] | None = None) -> SeriesAnalysis:
    """Retrieve one series (after checking from its listing that it is MR) and analyse it whole, or only the
    instances numbered ``instance_numbers``.

    Raises:
        PacsError: the PACS failed, the series is not MR, or none of the chosen instances is in it.
        InputError: the images cannot be analysed, as for an upload.
    """
    check_analysable(series, series.name)
    instances = client.retrieve_series(study_uid, series.uid)
    if instance_numbers:
        instances = choose_instances(instances, instance_numbers, series.name)
    return analyse_instances(instances, model, series.name, study_uid, series.uid)


def analyse_instances(instances: Sequence[Dataset], model: LoadedModel, name: str, study_uid: str,
                      series_uid: str) -> SeriesAnalysis:
    """Analyse the MR images among ``instances`` (one series, as the PACS sent it or as chosen) as one study.

    Raises:
        PacsError: the series is not MR, or holds no image.
        InputError: whatever an uploaded series would be refused for (sizes, undecodable pixels, blank slices).
    """
    for ds in instances:
        check_analysable(ds, name)
    found = group_series([(f"{name}, instance {_instance_number(ds) or '?'}", ds) for ds in instances])
    if not found:
        raise PacsError(f"{name} holds no images to analyse.")
    series = found[0]  # one series UID was asked for, so there is one group
    volume = read_series(series, name)
    order = series_layout(series)[1].order
    sources = tuple(series.frames[index].ds for index in order)
    key = hashlib.sha256("\n".join(str(ds.SOPInstanceUID) for ds in sources).encode()).hexdigest()
    return SeriesAnalysis(study_uid, series_uid, sources,
                          StudyView(key, name, volume, analyse_study(volume, model), model))


def _instance_number(ds: Dataset) -> int | None:
    value = ds.get("InstanceNumber")
    return None if value is None or value == "" else int(value)
