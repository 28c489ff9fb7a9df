"""The report: :mod:`core.report.pdf` builds the downloadable PDF, :mod:`core.report.patient` its optional fields.

Imports :mod:`core.io`, :mod:`core.models` and :mod:`core.present` only.
"""
