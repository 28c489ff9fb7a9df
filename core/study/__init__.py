"""Whole studies: a NIfTI volume or a DICOM series read as one stack of slices, analysed slice by slice in batches.

- :mod:`core.study.volume`: the :class:`~core.study.volume.Volume` every reader returns, NIfTI volumes, mask output;
- :mod:`core.study.series`: DICOM series: grouping, order along the slice normal, geometry checks, affine;
- :mod:`core.study.upload`: what an upload holds (NIfTI, DICOM files, a zip of them): ``list_series``, ``read_study``;
- :mod:`core.study.analyse`: every slice through the network in batches -> :class:`~core.study.analyse.StudyResult`;
- :mod:`core.study.cli`: ``python -m core volume``.

Studies use every layer of ``core``; its DICOM grayscale pipeline is :mod:`core.io.lut`, shared with the
single-slice reader. This file imports nothing, so each module loads only the libraries it needs.
"""
