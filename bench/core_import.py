"""Time `hotline residents import` as an operator runs it: 100,000 residents on SQLite.

The CSV is seeded and realistic: units building-entrance-room across 200 buildings of 3 entrances,
28 floors, 2 flats a floor (33,600 flats), one to five residents a flat under Chinese names (a few
in pinyin with lang en), 11-digit mobiles, 20 % with a second phone, 2 % do-not-call, some owners
of several flats reusing their number. Each run gets a fresh HOTLINE_HOME and `hotline init`, then
the import (insert path) and the same file again (update path), each the real CLI in a subprocess,
start-up included.

    python bench/core_import.py                   # 100,000 residents
    python bench/core_import.py --residents 20000 --keep   # smaller; keep the home to look at
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

BUILDINGS, ENTRANCES, FLOORS, FLATS_PER_FLOOR = 200, 3, 28, 2
TARGET_SECONDS = 10.0
HOTLINE = Path(sys.executable).with_name("hotline")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健"
PINYIN_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Smith", "Kim")
PINYIN_GIVEN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Jun", "Yang", "Anna", "David")
MOBILE_PREFIXES = ("130", "131", "135", "136", "137", "138", "139", "150", "158", "177", "186")


def unit_codes(floors: int = FLOORS) -> list[str]:
    """Every flat of the estate as building-entrance-room, e.g. `17-2-1502`."""
    return [
        f"{b}-{e}-{floor * 100 + flat}"
        for b in range(1, BUILDINGS + 1)
        for e in range(1, ENTRANCES + 1)
        for floor in range(1, floors + 1)
        for flat in range(1, FLATS_PER_FLOOR + 1)
    ]


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _name(rng: random.Random, english: bool) -> str:
    if english:
        return f"{rng.choice(PINYIN_GIVEN)} {rng.choice(PINYIN_SURNAMES)}"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def resident_rows(count: int, seed: int = 2026) -> Iterator[tuple[str, str, str, str, str, str]]:
    """(unit, name, phone, phone2, lang, do_not_call): names and phones unique within a flat."""
    rng = random.Random(seed)
    units = unit_codes()
    rng.shuffle(units)
    owners: list[str] = []  # numbers already used, for owners of several flats
    made = 0
    for unit in units * (count // len(units) + 1):
        names: set[str] = set()
        phones: set[str] = set()
        for _ in range(min(rng.choice((1, 2, 3, 3, 4, 5)), count - made)):
            english = rng.random() < 0.03
            name = _name(rng, english)
            while name in names:
                name = _name(rng, english)
            number = rng.choice(owners) if owners and rng.random() < 0.02 else _mobile(rng)
            while number in phones:
                number = _mobile(rng)
            second = _mobile(rng) if rng.random() < 0.2 else ""
            while second and (second in phones or second == number):
                second = _mobile(rng)
            names.add(name)
            phones.update({number, second} - {""})
            owners.append(number)
            made += 1
            dnc = "yes" if rng.random() < 0.02 else "no"
            yield unit, name, number, second, "en" if english else "zh", dnc
        if made >= count:
            return


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("unit", "name", "phone", "phone2", "lang", "do_not_call"))
        writer.writerows(resident_rows(count))


def run_cli(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(HOTLINE), *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hotline {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout.strip()


def count_rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("units", "residents", "phones")
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary HOTLINE_HOME")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="hotline-bench-import-"))
    env = {**os.environ, "HOTLINE_HOME": str(home)}
    env.pop("HOTLINE_DB_URL", None)  # the bench is about the default SQLite database
    try:
        csv_path = home / "residents.csv"
        write_csv(csv_path, args.residents)
        size = csv_path.stat().st_size / 1e6
        print(f"CSV: {args.residents} residents, {size:.1f} MB ({csv_path.name})")
        startup, _ = run_cli(env, "--version")
        init, _ = run_cli(env, "init")
        print(f"hotline --version {startup:.2f} s (interpreter start-up), init {init:.2f} s")
        for label in ("import (insert)", "re-import (update)"):
            elapsed, output = run_cli(env, "residents", "import", str(csv_path))
            verdict = "ok" if elapsed < TARGET_SECONDS else f"MISSED target {TARGET_SECONDS:.0f} s"
            print(
                f"{label:20} {elapsed:6.2f} s  {args.residents / elapsed:9,.0f} rows/s  "
                f"[{verdict}]  «{output}»"
            )
        counts = count_rows(home / "hotline.db")
        print("database: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
        if counts["residents"] != args.residents:
            raise SystemExit(f"expected {args.residents} residents, found {counts['residents']}")
    finally:
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home)


if __name__ == "__main__":
    main()
