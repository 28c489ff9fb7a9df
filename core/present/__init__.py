"""Presentation: what a result looks like, for the pages and the PDF alike (no Streamlit).

- :mod:`core.present.overlay`: masks and heatmaps blended onto a slice;
- :mod:`core.present.figures`: Plotly figures;
- :mod:`core.present.summaries`: model cards shaped into labels, sentences and tables;
- :mod:`core.present.findings`: one analysis in plain language;
- :mod:`core.present.gallery`: thumbnails of the test images a model got wrong.

Imports :mod:`core.io` and :mod:`core.models` only.
"""
