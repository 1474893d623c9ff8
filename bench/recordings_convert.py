"""Convert a backlog of recordings with the worker, pinned to ONE core, and print the figures.

The backlog: 1,000 recordings (8 kHz mono 16-bit WAV, 30-300 s, speech-like: voiced bursts at
syllable rate with pauses), cut from a few generated clips so building it takes seconds. Each run
indexes the backlog in a fresh SQLite database, then calls `ConversionWorker.run_once` until it is
empty, with `recordings.workers` = 1 and the default; ffmpeg inherits the pinning. Memory is the
process's resident set (VmRSS) sampled every 0.1 s, printed at 10 %, 50 % and 100 % of the backlog,
plus the largest ffmpeg child's peak.

    python bench/recordings_convert.py                    # 1,000 recordings, opus
    python bench/recordings_convert.py --count 100 --format mp3
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
import wave
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from hotline.core.db import Database
from hotline.recordings.index import register
from hotline.recordings.settings import ConversionSettings
from hotline.recordings.worker import ConversionWorker
from hotline.settings import RecordingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from wavs import RATE, speech_like

CLIP_SECONDS = 300
CLIPS = 4
BATCH = 20
MILESTONES = (0.1, 0.5, 1.0)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakRSS(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.stopped = rss_mib(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            self.peak = max(self.peak, rss_mib())


def build_backlog(folder: Path, count: int, low: float, high: float) -> float:
    rng = random.Random(2026)
    clips = [speech_like(CLIP_SECONDS, seed=n) for n in range(CLIPS)]
    total = 0.0
    for n in range(count):
        seconds = rng.uniform(low, high)
        frames = int(seconds * RATE)
        start = rng.randrange(0, CLIP_SECONDS * RATE - frames + 1)
        with wave.open(str(folder / f"1764000000.{n}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(clips[n % CLIPS][2 * start : 2 * (start + frames)])
        total += frames / RATE
    return total


def cpu_seconds() -> float:
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run(args: argparse.Namespace, settings: ConversionSettings, label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-rec-") as tmp:
        root = Path(tmp)
        (root / "calls").mkdir()
        audio = build_backlog(root / "calls", args.count, args.min, args.max)
        db = Database(f"sqlite:///{root / 'hotline.db'}")
        db.upgrade()
        at = datetime(2026, 11, 22, tzinfo=UTC)
        with db.session() as s:
            for wav in sorted((root / "calls").glob("*.wav")):
                register(s, wav, "call", at=at)
        worker = ConversionWorker(db, settings)
        fmt = settings.archive_format
        print(f"\n{label}: {args.count} recordings, {audio:,.0f} s of audio to {fmt}")
        print(f"  RSS before: {rss_mib():.1f} MiB")
        sampler = PeakRSS()
        sampler.start()
        done = archived = 0
        marks = list(MILESTONES)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        while done < args.count:
            ok, failed = worker.run_once(limit=BATCH)
            if ok + failed == 0:
                raise RuntimeError("the worker stopped with recordings left")
            done, archived = done + ok + failed, archived + ok
            while marks and done >= marks[0] * args.count:
                print(
                    f"  {marks.pop(0):4.0%} done: RSS {rss_mib():.1f} MiB (peak so far "
                    f"{sampler.peak:.1f} MiB) at {time.perf_counter() - wall0:.1f} s"
                )
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        sampler.stopped.set()
        sampler.join()
        size = sum(p.stat().st_size for p in (root / "calls").glob(f"*.{settings.archive_format}"))
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  archived {archived}, failed {args.count - archived}")
        print(f"  wall {wall:.1f} s: {audio / wall:.0f}x real time on one core")
        print(
            f"  cpu  {cpu:.1f} s (this process and ffmpeg): {audio / cpu:.0f}x real time per core"
        )
        print(f"  peak RSS {sampler.peak:.1f} MiB; largest ffmpeg child {child_peak:.1f} MiB")
        print(f"  archive {size / 2**20:.1f} MiB ({8 * size / audio / 1000:.1f} kbit/s)")
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--min", type=float, default=30.0)
    parser.add_argument("--max", type=float, default=300.0)
    parser.add_argument("--format", default="opus", choices=("opus", "mp3"))
    args = parser.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    print(f"pinned to CPU {core}; load average {os.getloadavg()[0]:.2f}")
    default = RecordingSettings(archive_format=args.format).conversion()
    run(args, replace(default, workers=1), "workers=1")
    run(args, default, f"workers={default.workers} (default)")


if __name__ == "__main__":
    main()
