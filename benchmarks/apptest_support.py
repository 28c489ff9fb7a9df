"""Running app.py under ``streamlit.testing.v1.AppTest`` as the server runs it (used by the tests and the load test)."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager


class NavigationPagesManager(PagesManager):
    """Run app.py through ``st.navigation`` on every AppTest run, as the server does once app.py has run.

    Because a ``app_pages/`` folder sits next to app.py, AppTest (Streamlit 1.67) re-enables the legacy pages-folder
    mode before each run, which runs a switched-to page without app.py (no sidebar, no page config).
    ``st.navigation`` switches that mode off for the server process, which this reproduces.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False
