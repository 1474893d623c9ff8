"""tests/typecheck.py lays every folder out under its installed name, and maps errors back."""

from __future__ import annotations

import os
from pathlib import Path

from typecheck import lay_tree, package_dirs, source_files, to_worktree


def test_the_tree_holds_every_file_under_its_installed_name(tmp_path: Path) -> None:
    dirs = package_dirs()
    lay_tree(tmp_path, dirs)
    root = Path(__file__).resolve().parent.parent
    for name, folder in dirs.items():
        for path in (root / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            laid = tmp_path.joinpath(*name.split("."), path.relative_to(root / folder))
            assert laid.resolve() == path.resolve(), laid
    laid_files = {
        (Path(folder) / name).resolve()
        for folder, _, names in os.walk(tmp_path, followlinks=True)
        for name in names
        if name.endswith(".py")
    }
    assert laid_files == source_files(dirs) - source_files({})  # the packages, not the scripts


def test_errors_are_reported_at_the_worktree_path() -> None:
    dirs = {"hotline": "hotline", "hotline.core": "core", "hotline.core.x": "x"}
    assert to_worktree("hotline/core/leads.py:3: error", dirs) == "core/leads.py:3: error"
    assert to_worktree("hotline/core/x/a.py:1: note", dirs) == "x/a.py:1: note"
    assert to_worktree("hotline/app.py:9: error", dirs) == "hotline/app.py:9: error"
    assert to_worktree("Found 1 error", dirs) == "Found 1 error"
