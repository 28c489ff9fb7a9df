"""Audit (admins only; app.py registers it for the admin group): who signed in, analysed and downloaded what, when."""

import streamlit as st

from app_pages.access_ui import audited_download, current_viewer, open_store
from core.app.audit import COLUMN_LABELS, EVENTS, AuditQuery, events_csv


def filters_ui(users: list[str]) -> AuditQuery:
    """The filters in one row; returns the query they describe (empty filters match everything)."""
    columns = st.columns([2, 2, 2, 2])
    days = columns[0].date_input("Days (UTC)", value=(), key="audit_days", help="One day, or the first and last day.")
    chosen = columns[1].multiselect("Users", users, key="audit_users", placeholder="Everyone")
    events = columns[2].multiselect("Events", list(EVENTS), format_func=EVENTS.get, key="audit_events",
                                    placeholder="Every event")
    text = columns[3].text_input("File name or SHA-256 contains", key="audit_text")
    start, end = (*days, None, None)[:2]
    return AuditQuery(start, end or start, tuple(chosen), tuple(events), text.strip())


st.title("Audit")
viewer = current_viewer()
store = open_store(str(viewer.audit_folder))
query = filters_ui(store.users())
frame = store.read(query)
frame["event"] = frame["event"].map(EVENTS).fillna(frame["event"])
st.caption(f"{len(frame):,} record{'s' if len(frame) != 1 else ''}, newest first; stored in `{store.path.name}`, "
           "append-only. Images, patient details and reports are never stored.")
st.dataframe(frame, hide_index=True, width="stretch",
             column_config={name: st.column_config.TextColumn(label) for name, label in COLUMN_LABELS.items()})
st.download_button("Download these records (CSV)", mime="text/csv", file_name="audit_trail.csv", key="audit_csv",
                   data=audited_download(lambda: events_csv(frame), "audit_trail.csv", event="export"),
                   icon=":material/download:", on_click="ignore", disabled=frame.empty)
