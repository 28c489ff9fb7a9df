"""Imports point one way: app_pages -> core <- training <- benchmarks, and inside core from layer to lower layer.

core runs without Streamlit, app.py, app_pages, training or benchmark code. Its layers, lowest first: input
(core.io) <- models (core.models) <- presentation (core.present) <- report (core.report) <- the entry points (core.app,
core.cli) and the features that use every layer (core.study, core.pacs). Checked twice: by importing each layer in a
fresh interpreter (what a module really pulls in, importlib included) and by reading every import statement (lazy
imports inside functions too, which an import alone never runs).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = (("core.io",), ("core.models",), ("core.present",), ("core.report",),
          ("core.app", "core.cli", "core.study", "core.pacs", "core.__main__"))
"""Packages of each layer, lowest first; a module may import its own layer and the layers before it."""
OUTSIDE = {"streamlit", "app", "app_pages", "training", "benchmarks"}
"""Top-level packages no core module may import."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    """Index into :data:`LAYERS`, or None for ``core`` itself and modules outside core."""
    for index, packages in enumerate(LAYERS):
        if any(module == package or module.startswith(package + ".") for package in packages):
            return index
    return None


def core_modules() -> list[str]:
    return sorted(module_name(p) for p in (REPO / "core").rglob("*.py") if p.stem != "__main__")


@pytest.fixture(scope="module")
def loaded_after_each_layer() -> list[list[str]]:
    """The modules loaded after importing layer 0, then also layer 1, and so on, in one fresh interpreter."""
    by_layer = [[m for m in core_modules() if layer_of(m) == index] for index in range(len(LAYERS))]
    code = ("import importlib, json, sys\nseen = []\n"
            f"for modules in {by_layer!r}:\n"
            "    [importlib.import_module(m) for m in modules]\n"
            "    seen.append(sorted(sys.modules))\n"
            "print(json.dumps(seen))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_layer_holds_modules_and_the_sub_packages_are_seen() -> None:
    modules = set(core_modules())
    assert {"core.models.analysis", "core.cli.batch", "core.models.registry", "core.study.analyse",
            "core.study.view", "core.io.read", "core.present.overlay", "core.report.pdf",
            "core.app.session_results", "core.pacs.cli"} <= modules
    assert all(layer_of(m) is not None for m in modules - {"core"}), "a core module outside every layer"


def test_core_never_imports_streamlit_pages_training_or_benchmarks(loaded_after_each_layer) -> None:
    assert sorted({m.split(".")[0] for m in loaded_after_each_layer[-1]} & OUTSIDE) == []


def test_importing_a_layer_loads_no_module_of_a_higher_layer(loaded_after_each_layer) -> None:
    higher = {LAYERS[index][0]: sorted(m for m in loaded if (layer_of(m) or 0) > index)
              for index, loaded in enumerate(loaded_after_each_layer)}
    assert higher == {packages[0]: [] for packages in LAYERS}


def imported_modules(path: Path) -> set[str]:
    """Absolute modules named by the import statements of a file, wherever in it they are."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            named |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return named


def test_no_import_statement_in_core_points_up_or_out() -> None:
    wrong = []
    for path in sorted((REPO / "core").rglob("*.py")):
        source = layer_of(module_name(path))
        for target in imported_modules(path):
            target_layer = layer_of(target)
            if target.split(".")[0] in OUTSIDE or (
                    source is not None and target_layer is not None and target_layer > source):
                wrong.append(f"{module_name(path)} -> {target}")
    assert wrong == []


def test_training_never_imports_benchmarks() -> None:
    wrong = [f"{module_name(path)} -> {target}" for path in sorted((REPO / "training").rglob("*.py"))
             for target in imported_modules(path) if target.split(".")[0] in {"benchmarks", "app", "app_pages"}]
    assert wrong == []
