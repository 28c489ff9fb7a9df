"""The PACS tests' Orthanc (:mod:`benchmarks.orthanc`), skipped where it is not installed, and the synthetic MR studies
they load into it: the bright-cube series of :mod:`study_builders` unless other planes are given, so the tiny network
(conftest ``tiny_weights``) outlines exactly the cube.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from study_builders import cube_planes

from benchmarks import orthanc
from benchmarks.browser import ServerError
from benchmarks.orthanc import Orthanc as Orthanc
from benchmarks.orthanc import SyntheticStudy as SyntheticStudy


@contextmanager
def running_orthanc(folder: Path) -> Iterator[Orthanc]:
    """:func:`benchmarks.orthanc.running_orthanc`; skips where Orthanc is missing, fails when it does not start."""
    reason = orthanc.missing()
    if reason:
        pytest.skip(reason)
    try:
        with orthanc.running_orthanc(folder) as server:
            yield server
    except ServerError as err:
        pytest.fail(str(err))


def load_synthetic_study(server: Orthanc, patient_id: str, patient_name: str, study_date: str,
                         planes: np.ndarray | None = None) -> SyntheticStudy:
    """:func:`benchmarks.orthanc.load_synthetic_study` of ``planes``, by default the bright cube."""
    return orthanc.load_synthetic_study(server, cube_planes() if planes is None else planes, patient_id,
                                        patient_name, study_date)
