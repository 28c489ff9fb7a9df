"""Input, the lowest layer: every accepted upload decoded to a grayscale slice; imports nothing else from ``core``.

- :mod:`core.io.read`: the one entry point (``read_scan``, ``read_image``, ``describe_volume``): format by the bytes;
- :mod:`core.io.scan`: :class:`~core.io.scan.ScanSlice` and the checks and intensity mappings every reader shares;
- :mod:`core.io.raster`, :mod:`core.io.dicom`, :mod:`core.io.nifti`, :mod:`core.io.hdf5`: one reader per family;
- :mod:`core.io.lut`: the DICOM grayscale pipeline, shared by :mod:`core.io.dicom` and :mod:`core.study.series`;
- :mod:`core.io.errors`: :class:`~core.io.errors.InputError`, the sentence a user sees for a bad input.

This file imports nothing, so importing one reader never loads the libraries of the others.
"""
