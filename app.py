"""Brain MRI tumour dashboard: page list, page config and the sidebar every page shares.

    streamlit run app.py
"""

import streamlit as st

from pages.common import render_sidebar

st.set_page_config(page_title="Brain MRI tumour dashboard", layout="wide")
page = st.navigation([
    st.Page("pages/analyse.py", title="Analyse", icon=":material/radiology:", default=True),
    st.Page("pages/study.py", title="Study", icon=":material/view_in_ar:"),
    st.Page("pages/performance.py", title="Model performance", icon=":material/monitoring:"),
    st.Page("pages/model_card.py", title="Model card", icon=":material/description:"),
])
render_sidebar()
page.run()
