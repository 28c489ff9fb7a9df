"""Brain-tumour MRI analysis library, no Streamlit here; its layers import downwards only (see ARCHITECTURE.md).

- :mod:`core.io`: input, every upload format decoded to one slice;
- :mod:`core.models`: model cards, loading, preprocessing and everything computed from the networks;
- :mod:`core.present`: overlays, figures, labels and plain-language findings;
- :mod:`core.report`: the PDF report and its patient fields;
- :mod:`core.app` (the Streamlit-free half of the app) and :mod:`core.cli` (the command line and batch engines);
- :mod:`core.study` and :mod:`core.pacs`: whole studies and the PACS, features that use every layer below them.
"""
