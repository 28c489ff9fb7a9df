"""Brain-tumour MRI analysis library: image I/O, preprocessing, models and reports (no Streamlit here)."""
