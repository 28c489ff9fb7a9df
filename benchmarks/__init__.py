"""Benchmarks and load tests: speed, throughput and the audit, PACS and browser load measurements behind the README.

Each writes a JSON file into ``weights/`` (``python -m benchmarks.bench`` and friends). Imports :mod:`core` and
:mod:`training` (``bench_training`` times the training pipeline); neither imports this package. The real servers
the tests also use live here: :mod:`benchmarks.browser` (Streamlit and Chromium), :mod:`benchmarks.orthanc` (a PACS),
:mod:`benchmarks.dicom_series` (generated MR series), :mod:`benchmarks.apptest_support` (AppTest as the server runs).
"""
