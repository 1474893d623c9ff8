"""What the metrics cost the calls: p99 AGI turnaround with the metrics off, on and scraped.

`hotline serve` (SQLite) in its own process, driven by bench/inbound_load.py's load generator:
the standard inbound call at real pace (each reply after about 1 s), ``--calls`` in flight.
Three modes, run ``--rounds`` times each, interleaved, each round in another order (off, on,
scraped; on, scraped, off; ...) so that drift on the machine hits all alike, each run on a
fresh copy of the same home:

  off      metrics.listen empty: no metrics at all (no hooks, no HTTP endpoint)
  on       metrics on, nobody scraping: the hooks on every command and the database refresh
  scraped  metrics on, and another process fetching /metrics every ``--scrape-every`` seconds
           (15 s by default, as Prometheus does and the README configures it)

The figure is each mode's median p99 over its rounds. Target: scraped adds at most 5 % to off.

    .venv/bin/python bench/metrics_overhead.py [--rounds 3] [--calls 500] [--seconds 45]
    .venv/bin/python bench/metrics_overhead.py --scrape-every 1 --modes off scraped  # stress
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _load import ServerProcess, make_home, record_script  # bench/ is on sys.path
from inbound_load import STANDARD_CALL, Callers, Plan, paced

TARGET_ADDED = 0.05
MODES = ("off", "on", "scraped")
SCRAPER = """
import signal, sys, time, urllib.request
signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop: print the figures
url, every = sys.argv[1], float(sys.argv[2])
times, size = [], 0
try:
    while True:
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=5) as r:
            size = len(r.read())
        times.append(time.monotonic() - started)
        time.sleep(max(0.0, every - (time.monotonic() - started)))
except KeyboardInterrupt:
    times.sort()
    print(len(times), sum(times) / len(times), times[int(len(times) * 0.99)], size)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fresh_home(pristine: Path, root: Path) -> Path:
    """A copy of the pristine home, always at the same path (the script's recording paths
    name it)."""
    home = root / "home"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(pristine, home)
    return home


def run_once(
    mode: str, pristine: Path, root: Path, script: Any, callers: Callers, plan: Plan, every: float
) -> dict[str, Any]:
    home = fresh_home(pristine, root)
    port = free_port()
    listen = "" if mode == "off" else f"127.0.0.1:{port}"
    server = ServerProcess(home, root / f"serve-{mode}.log", {"HOTLINE_METRICS_LISTEN": listen})
    server.start()
    scraper = None
    try:
        if mode == "scraped":
            url = f"http://127.0.0.1:{port}/metrics"
            scraper = subprocess.Popen(
                [sys.executable, "-c", SCRAPER, url, str(every)], stdout=subprocess.PIPE, text=True
            )
        result = asyncio.run(paced(server, script, callers, plan))
    finally:
        if scraper is not None:
            scraper.terminate()
            out, _ = scraper.communicate()
            n, mean, p99, size = out.split()
            result["scrapes"] = {
                "count": int(n),
                "mean_ms": round(float(mean) * 1000, 2),
                "p99_ms": round(float(p99) * 1000, 2),
                "bytes": int(size),
            }
        server.stop()
    result.pop("keys")
    result["errors"] += len(server.errors_logged())
    return {"mode": mode} | result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode, interleaved")
    parser.add_argument("--calls", type=int, default=500, help="calls in flight")
    parser.add_argument("--seconds", type=float, default=45.0, help="measured, per run")
    parser.add_argument("--scrape-every", type=float, default=15.0, help="seconds")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per run, then the verdict"
    )
    args = parser.parse_args()
    plan = Plan(2_000, 0, (), args.calls, 1.0, args.seconds, 0)
    with tempfile.TemporaryDirectory(prefix="hotline-metrics-") as tmp:
        root = Path(tmp)
        made, phones = make_home(root, plan.residents)
        pristine = made.rename(root / "pristine")
        callers = Callers(phones[1:])
        recorder = ServerProcess(fresh_home(pristine, root), root / "serve-record.log")
        recorder.start()
        try:
            script = record_script(recorder.port, phones[0], STANDARD_CALL)
        finally:
            recorder.stop()
        if not args.json:
            print(
                f"{args.calls} calls in flight, replies after 1 s, {args.seconds:g} s measured a "
                f"run; /metrics fetched every {args.scrape_every:g} s in the scraped runs"
            )
            print("round  mode      commands  p50 ms  p99 ms  p99.9 ms  errors  scrapes")
        p99s: dict[str, list[float]] = {mode: [] for mode in args.modes}
        for round_ in range(1, args.rounds + 1):
            # Each round starts one mode later (off, on, scraped; on, scraped, off; ...): the
            # machine drifts within a round too, and a fixed order would charge it to the last.
            shift = (round_ - 1) % len(args.modes)
            for mode in args.modes[shift:] + args.modes[:shift]:
                r = run_once(mode, pristine, root, script, callers, plan, args.scrape_every)
                t = r["turnaround_ms"]
                p99s[mode].append(t["p99"])
                if args.json:
                    print(json.dumps({"round": round_} | r, ensure_ascii=False))
                    continue
                scrapes = r.get("scrapes")
                print(
                    f"{round_:5}  {mode:8}  {r['commands_measured']:8}  {t['p50']:6.2f}  "
                    f"{t['p99']:6.2f}  {t['p99.9']:8.2f}  {r['errors']:6}  "
                    + (
                        f"{scrapes['count']} of {scrapes['bytes']} bytes, "
                        f"{scrapes['mean_ms']:.1f} ms mean"
                        if scrapes
                        else ""
                    ),
                    flush=True,
                )
    medians = {mode: statistics.median(values) for mode, values in p99s.items()}
    added = {
        mode: round((p99 - medians["off"]) / medians["off"], 4)
        for mode, p99 in medians.items()
        if "off" in medians and mode != "off"
    }
    verdict: dict[str, Any] = {"p99_median_ms": medians, "added": added}
    if "scraped" in added:
        verdict |= {"target_added": TARGET_ADDED, "ok": added["scraped"] <= TARGET_ADDED}
    if args.json:
        print(json.dumps(verdict))
        return
    print("median p99: " + ", ".join(f"{m} {p99:.2f} ms" for m, p99 in medians.items()))
    for mode, share in added.items():
        line = f"added to off by {mode}: {share:+.1%}"
        if mode == "scraped":
            line += f" (target <= +{TARGET_ADDED:.0%}: {'ok' if verdict['ok'] else 'MISSED'})"
        print(line)


if __name__ == "__main__":
    main()
