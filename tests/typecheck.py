"""mypy over hotline as it installs (./run test runs this between ruff and pytest).

pyproject's package-dir installs folders under other names (core/ -> hotline.core), which mypy
cannot read: it checks a tree of links laid out as the package installs (var/typecheck/), with
the tests and benchmarks beside it, and each error is reported at the file's own path in the
worktree.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "var" / "typecheck"
SCRIPTS = ("tests", "bench")
PYTEST_PATH = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
    "pythonpath"
]  # checked too, as the top-level modules pytest and python see


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


def script_groups(root: Path = ROOT) -> list[list[Path]]:
    """The scripts' folders, one mypy run each: each is a folder of top-level modules (a
    subfolder such as tests/differential/ puts itself on sys.path, with a conftest of its own),
    the first run with the tests' and benchmarks' own folders."""
    top = [p for folder in SCRIPTS for p in sorted((root / folder).glob("*.py"))]
    subfolders = sorted(
        {p.parent for folder in SCRIPTS for p in (root / folder).glob("*/**/*.py")}
        - {root / folder for folder in SCRIPTS}
    )
    subfolders = [d for d in subfolders if "__pycache__" not in d.parts]
    return [top, *(sorted(d.glob("*.py")) for d in subfolders)]


def run_mypy(dirs: dict[str, str], files: list[str]) -> tuple[int, int]:
    """(exit code, how many files mypy read) of one run, its report printed."""
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(ROOT / "var" / "mypy_cache"), *files, *sys.argv[1:]]
    # The folders pytest puts on the path (pythonpath), for the imports between them; not the
    # run's own folder, whose files mypy is given (a module must not be found twice).
    own = {Path(f).resolve().parent for f in files}
    path = [str(ROOT / p) for p in PYTEST_PATH if (ROOT / p).resolve() not in own]
    env = {**os.environ, "MYPYPATH": os.pathsep.join(path)}
    result = subprocess.run(command, cwd=TREE, capture_output=True, text=True, env=env)
    for line in result.stdout.splitlines():
        print(to_worktree(line, dirs))
    sys.stderr.write(result.stderr)
    checked = re.search(r"(\d+) source files?", result.stdout)
    return result.returncode, int(checked[1]) if checked else 0


def main() -> int:
    dirs = package_dirs()
    shutil.rmtree(TREE, ignore_errors=True)  # laid anew: folders come and go
    lay_tree(TREE, dirs)
    first, *rest = script_groups()
    # The package as a folder (not -p), so the scripts can be checked in the same run.
    runs = [run_mypy(dirs, [min(dirs, key=len), *map(str, first)])]
    runs += [run_mypy(dirs, list(map(str, group))) for group in rest]
    # A folder the tree or the groups missed would pass unseen: mypy must read every file.
    read, expected = sum(n for _, n in runs), len(source_files(dirs))
    if read != expected:
        print(f"typecheck: mypy read {read} files, not all {expected}")
        return 1
    return max(code for code, _ in runs)


if __name__ == "__main__":
    sys.exit(main())
