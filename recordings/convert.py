"""WAV to the archive format (Opus in Ogg, or MP3) with pydub, for 8 kHz mono speech.

Nothing is lost on the way: the archive is written under a temporary name, fsynced, re-read in full
by ffmpeg and its duration checked against the source, and only then renamed into place. Removing
the source WAV is the caller's step, once the index has recorded the archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError, CouldntEncodeError

from hotline.core.vocabulary import DomainError

from .archives import CODECS, archive_path
from .index import file_sha256

SPEECH_RATE = 8000
TOLERANCE_SECONDS = 0.05
LOUDNESS_DBFS = -20.0  # RMS target of loudness normalisation
PEAK_CEILING_DBFS = -1.0  # normalisation never pushes a peak above this
PART_SUFFIX = ".part"
RAW_OUTPUT = ("-f", "s16le", "-ac", "1", "-ar", str(SPEECH_RATE), "-")


class FfmpegMissing(DomainError):
    """The tool is missing, not the recording at fault: rows stay pending."""


class ConversionError(Exception):
    """This recording could not be archived; the reason goes into the index."""


@dataclass(frozen=True)
class Archive:
    path: Path
    format: str
    duration: float
    size: int
    sha256: str


def require_ffmpeg() -> str:
    converter: str = AudioSegment.converter  # pydub's setting: "ffmpeg" unless changed
    found = shutil.which(converter)
    if not found:
        raise FfmpegMissing(
            f"{converter} not found: recordings conversion needs the Debian "
            "package `ffmpeg` (apt-get install ffmpeg)"
        )
    return found


def remove_partials(target: Path) -> list[Path]:
    """Temporary archives a killed conversion left beside `target`."""
    leftovers = sorted(target.parent.glob(f".{target.name}.*{PART_SUFFIX}"))
    for part in leftovers:
        part.unlink(missing_ok=True)
    return leftovers


def normalise_loudness(audio: AudioSegment) -> AudioSegment:
    if audio.rms == 0:  # silence stays silence
        return audio
    gain = min(LOUDNESS_DBFS - audio.dBFS, PEAK_CEILING_DBFS - audio.max_dBFS)
    return audio.apply_gain(gain)


def decoded_seconds(path: Path) -> float:
    """Decode the whole file (as 8 kHz mono 16-bit) and count the samples: a real re-read."""
    result = subprocess.run(
        [require_ffmpeg(), "-nostdin", "-v", "error", "-i", str(path), *RAW_OUTPUT],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConversionError(f"archive does not decode: {result.stderr.decode(errors='replace')}")
    return len(result.stdout) / 2 / SPEECH_RATE


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _error_text(exc: Exception) -> str:
    # ffmpeg's output ends with the reason; its banner is noise in the index.
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return " | ".join(lines[:1] + lines[-2:]) if len(lines) > 3 else " | ".join(lines)


def convert(source: Path, fmt: str, *, normalise: bool = False) -> Archive:
    """Write `source`'s archive beside it and check it; raises ConversionError with the reason."""
    codec = CODECS.get(fmt)
    if codec is None:
        raise ValueError(f"unknown archive format {fmt!r}; one of {', '.join(CODECS)}")
    require_ffmpeg()
    target = archive_path(source, fmt)
    if target == source:
        raise ConversionError(f"{source.name} is already in the archive format")
    try:
        audio = AudioSegment.from_file(source)
    except FileNotFoundError:
        raise ConversionError(f"source missing: {source}") from None
    except (CouldntDecodeError, OSError, ValueError) as exc:
        raise ConversionError(f"cannot read source: {_error_text(exc)}") from None
    audio = audio.set_channels(1).set_frame_rate(SPEECH_RATE).set_sample_width(2)
    if normalise:
        audio = normalise_loudness(audio)
    expected = len(audio) / 1000

    remove_partials(target)
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
    try:
        out = audio.export(
            str(part),
            format=codec.ffmpeg_format,
            codec=codec.encoder,
            bitrate=codec.bitrate,
            parameters=["-ar", str(SPEECH_RATE), "-ac", "1", *codec.options],
        )
        with out:
            out.flush()
            os.fsync(out.fileno())
        # Checked before it takes the archive's name, so a bad archive never lands there.
        duration = decoded_seconds(part)
        if abs(duration - expected) > TOLERANCE_SECONDS:
            raise ConversionError(
                f"archive lasts {duration:.3f} s but the source {expected:.3f} s; source kept"
            )
        os.replace(part, target)
        _fsync_dir(target.parent)
    except (CouldntEncodeError, OSError) as exc:
        raise ConversionError(f"cannot write archive: {_error_text(exc)}") from None
    finally:
        part.unlink(missing_ok=True)
    return Archive(target, fmt, duration, target.stat().st_size, file_sha256(target))
