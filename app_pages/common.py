"""Pieces every page shares: where the weights are, the cached model cards, the sidebar, the missing-model note."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.access_ui import account_ui
from core.access import Viewer
from core.cards import MODELS, TUMOUR_NET, file_sha256, read_cards, weights_dir
from core.summaries import DISCLAIMER, format_date, headline_metrics, is_installed


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
    st.info(f"The {MODELS[name]['title'].lower()} model ({name}) is not installed; "
            f"train it with `{MODELS[name]['train']}`.")


def render_sidebar(viewer: Viewer) -> None:
    """Who is signed in (or local mode), each model's status, training date and headline test numbers, and the
    research-use warning."""
    cards, folder = load_cards(), weights_dir()
    with st.sidebar:
        account_ui(viewer)
        st.subheader("Models")
        for name, model in MODELS.items():
            if not is_installed(name, folder):
                st.markdown(f"**{model['title']}**: not installed; train it with `{model['train']}`.")
                continue
            metrics = " · ".join(f"{label} {value}" for label, value in headline_metrics(name, cards[name]).items())
            st.markdown(f"**{model['title']}**: installed, trained {format_date(cards[name])}")
            st.caption(metrics)
        st.warning(DISCLAIMER, icon="⚠️")
