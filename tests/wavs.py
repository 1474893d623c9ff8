"""Recordings for tests and benches: 8 kHz mono 16-bit WAVs that sound a little like speech."""

from __future__ import annotations

import math
import random
import wave
from array import array
from pathlib import Path

RATE = 8000


def speech_like(seconds: float, seed: int = 0, level: float = 0.3) -> bytes:
    """Syllable-rate bursts of a few harmonics with a little noise, and pauses between words."""
    rng = random.Random(seed)
    samples = array("h")
    pitch = rng.uniform(100, 220)
    n = int(seconds * RATE)
    while len(samples) < n:
        length = int(rng.uniform(0.1, 0.4) * RATE)
        voiced = rng.random() > 0.25
        pitch = min(260.0, max(90.0, pitch * rng.uniform(0.9, 1.1)))
        for i in range(length):
            t = i / RATE
            envelope = math.sin(math.pi * i / length) if voiced else 0.0
            tone = sum(math.sin(2 * math.pi * pitch * k * t) / k for k in (1, 2, 3))
            value = level * (envelope * tone / 1.8 + rng.uniform(-0.02, 0.02))
            samples.append(int(32767 * max(-1.0, min(1.0, value))))
    return samples[:n].tobytes()


def write_wav(path: Path, seconds: float, seed: int = 0, level: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(speech_like(seconds, seed, level))
    return path
