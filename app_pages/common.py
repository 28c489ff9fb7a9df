"""Pieces every page shares: where the weights are, the cached model cards, the sidebar, the missing-model note, the
one-sentence answer to a failure and a row of pictures."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from app_pages.access_ui import account_ui
from core.app.access import Viewer
from core.io.errors import InputError
from core.models.cards import MODELS, TUMOUR_NET, file_sha256, read_cards, weights_dir
from core.present.summaries import DISCLAIMER, format_date, headline_metrics, is_installed

if TYPE_CHECKING:
    from core.app.session_results import Panel


@st.cache_data(show_spinner=False)
def _read_cards(folder: str, stamp: tuple) -> dict[str, dict]:
    return read_cards(Path(folder))


@st.cache_data(show_spinner=False)
def _digest(path: str, stamp: int) -> str:
    return file_sha256(Path(path))


def network_sha256() -> str | None:
    """SHA-256 of the installed network, re-hashed only when the file changes (cards record the one they measured)."""
    path = weights_dir() / f"{TUMOUR_NET}.keras"
    return _digest(str(path), path.stat().st_mtime_ns) if path.is_file() else None


def load_cards() -> dict[str, dict]:
    """Every card in the weights folder; re-read only when a card file changes (e.g. a training run finishes)."""
    folder = weights_dir()
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.json")))
    return _read_cards(str(folder), stamp)


def missing_model_info(name: str) -> None:
    """One sentence naming the command that trains a model whose card is absent."""
    st.info(f"The {MODELS[name].title.lower()} model ({name}) is not installed; "
            f"train it with `{MODELS[name].train}`.")


def render_sidebar(viewer: Viewer) -> None:
    """Who is signed in (or local mode), each model's status, training date and headline test numbers, and the
    research-use warning."""
    cards, folder = load_cards(), weights_dir()
    with st.sidebar:
        account_ui(viewer)
        st.subheader("Models")
        for name, model in MODELS.items():
            if not is_installed(name, folder):
                st.markdown(f"**{model.title}**: not installed; train it with `{model.train}`.")
                continue
            metrics = " · ".join(f"{label} {value}" for label, value in headline_metrics(name, cards[name]).items())
            st.markdown(f"**{model.title}**: installed, trained {format_date(cards[name])}")
            st.caption(metrics)
        st.warning(DISCLAIMER, icon="⚠️")


def attempt(action: Callable, what: str, internal_error: str):
    """``action()``, or None after showing its one sentence: the :class:`~core.io.errors.InputError`'s own, or
    ``internal_error`` for anything else (a bug), whose type alone is logged as "``what`` failed with ..."."""
    try:
        return action()
    except InputError as err:
        st.error(str(err))
    except Exception as err:  # a bug, not bad input: one sentence for the user, only the type in the log
        logging.getLogger(__name__).error("%s failed with %s", what, type(err).__name__)
        st.error(internal_error)
    return None


def panels_ui(panels: list[Panel]) -> None:
    """Pictures side by side, three to a row (:class:`core.app.session_results.Panel`): a note where one is missing."""
    for column, panel in zip(st.columns(3), panels, strict=False):
        if panel.image is None:
            column.info(panel.note)
            column.caption(panel.caption)
        else:
            column.image(panel.image, caption=panel.caption, width="stretch")
