"""The layers of pyproject.toml's import-linter contracts hold, and a wrong-way import breaks them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # the copy's packages, not the installed ones
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in ("assistant", "adapters", "domain"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_layers_hold(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("module, planted, broken", [
    ("adapters/base.py", "from assistant.core.errors import AssistantError", "back ends know nothing of the assistant"),
    ("assistant/core/frames.py", "from assistant.dialog.dialog import Dialog", "assistant layers"),
    ("domain/masking.py", "import adapters.base", "the domain's reference data"),
    ("assistant/dialog/responder.py", "from assistant.nlu.eval import scoring", "the trainers' evaluation is apart"),
])
def test_a_wrong_way_import_fails(tree: Path, module: str, planted: str, broken: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    result = lint(tree)
    assert result.returncode != 0
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(broken) and line.endswith(("KEPT", "BROKEN"))]
    assert verdicts and all(line.endswith("BROKEN") for line in verdicts), result.stdout
