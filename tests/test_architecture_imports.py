"""Imports point one way, app_pages -> core <- training: core runs without Streamlit, app_pages or training code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_core_never_imports_streamlit_pages_or_training() -> None:
    # Every core module, sub-packages included, in one fresh interpreter, as the CLI would.
    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts) for p in (REPO / "core").rglob("*.py")
                     if not p.stem.startswith("__"))
    assert {"core.analysis", "core.batch", "core.registry", "core.study.analyse", "core.study.view"} <= set(modules)
    code = (f"import importlib, json, sys; [importlib.import_module(m) for m in {modules!r}]; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'streamlit', 'app_pages', 'training'})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
