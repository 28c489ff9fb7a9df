"""Brain MRI tumour dashboard: the sign-in gate, page list, page config and the sidebar every page shares.

    streamlit run app.py
"""

import streamlit as st

from app_pages.access_ui import gate
from app_pages.common import render_sidebar

st.set_page_config(page_title="Brain MRI tumour dashboard", layout="wide")
viewer = gate()  # with [auth] secrets, stops here until an allowed person is signed in
pages = [
    st.Page("app_pages/analyse.py", title="Analyse", icon=":material/radiology:", default=True),
    st.Page("app_pages/study.py", title="Study", icon=":material/view_in_ar:"),
    st.Page("app_pages/pacs.py", title="PACS", icon=":material/cloud_sync:"),
    st.Page("app_pages/performance.py", title="Model performance", icon=":material/monitoring:"),
    st.Page("app_pages/model_card.py", title="Model card", icon=":material/description:"),
]
if viewer.admin:
    pages.append(st.Page("app_pages/audit.py", title="Audit", icon=":material/shield_person:"))
page = st.navigation(pages)
render_sidebar(viewer)
page.run()
