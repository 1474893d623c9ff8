"""mypy over hotline as it installs (./run test runs this between ruff and pytest).

pyproject's package-dir installs folders under other names (core/ -> hotline.core), which mypy
cannot read: it checks a tree of links laid out as the package installs (var/typecheck/), with
the tests and benchmarks beside it, and each error is reported at the file's own path in the
worktree.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "var" / "typecheck"
SCRIPTS = ("tests", "bench")  # checked too, as the top-level modules pytest and python see


def package_dirs(root: Path = ROOT) -> dict[str, str]:
    """Installed package name -> folder, as pyproject's [tool.setuptools] package-dir says."""
    with (root / "pyproject.toml").open("rb") as f:
        dirs: dict[str, str] = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return dirs


def lay_tree(tree: Path, dirs: dict[str, str], root: Path = ROOT) -> None:
    """Link each folder in at its installed name; a package with mapped subpackages becomes a
    folder of links to its own entries, so both fit in it."""
    for name, folder in sorted(dirs.items(), key=lambda item: item[0].count(".")):
        place = tree.joinpath(*name.split("."))
        if any(other.startswith(name + ".") for other in dirs):
            place.mkdir(parents=True)
            for entry in (root / folder).iterdir():
                if entry.name != "__pycache__":
                    (place / entry.name).symlink_to(entry)
        else:
            place.symlink_to(root / folder)


def to_worktree(line: str, dirs: dict[str, str]) -> str:
    """`hotline/core/leads.py:3: ...` -> `core/leads.py:3: ...` (longest mapped prefix wins)."""
    line = line.removeprefix(f"{ROOT}/")  # tests/, bench/ (given as absolute paths)
    for name in sorted(dirs, key=len, reverse=True):
        prefix = name.replace(".", "/") + "/"
        if line.startswith(prefix):
            return dirs[name].rstrip("/") + "/" + line[len(prefix) :]
    return line


def source_files(dirs: dict[str, str], root: Path = ROOT) -> set[Path]:
    """Every file mypy must check: the packages' folders and the scripts'."""
    folders = [root / folder for folder in (*dirs.values(), *SCRIPTS)]
    return {p.resolve() for f in folders for p in f.rglob("*.py") if "__pycache__" not in p.parts}


def main() -> int:
    dirs = package_dirs()
    shutil.rmtree(TREE, ignore_errors=True)  # laid anew: folders come and go
    lay_tree(TREE, dirs)
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(ROOT / "var" / "mypy_cache")]
    # The package as a folder (not -p), so the scripts can be checked in the same run.
    command += [min(dirs, key=len), *(str(ROOT / folder) for folder in SCRIPTS)]
    result = subprocess.run(
        [*command, *sys.argv[1:]],
        cwd=TREE,
        capture_output=True,
        text=True,
    )
    for line in result.stdout.splitlines():
        print(to_worktree(line, dirs))
    sys.stderr.write(result.stderr)
    # A folder the tree missed would pass unseen: mypy must have read every file.
    checked = re.search(r"(\d+) source files?", result.stdout)
    expected = len(source_files(dirs))
    if checked is None or int(checked[1]) != expected:
        print(f"typecheck: mypy read {checked[1] if checked else 'no'} files, not all {expected}")
        return 1
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
