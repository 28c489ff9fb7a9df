"""The Streamlit-free half of the app: what ``app_pages/`` shows and records, testable without a server.

- :mod:`core.app.session_results`: the Analyse page's view-model (results, panels, the PDF of a batch of uploads);
- :mod:`core.app.access`: who may enter a shared deployment;
- :mod:`core.app.audit`: the audit trail (also written by the PACS export, hence here and not in ``app_pages``).

May import every layer (:mod:`core.io` to :mod:`core.report`) and :mod:`core.study`'s results, never :mod:`core.cli`.
"""
