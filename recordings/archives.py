"""The archive formats a WAV is converted to, and where its archive is written.

Apart from the conversion (convert.py, which loads pydub): whoever only names an archive, such as
a command that resolves a ticket's recording, loads no audio library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Codec:
    ffmpeg_format: str
    encoder: str
    bitrate: str
    options: tuple[str, ...] = ()


CODECS: dict[str, Codec] = {
    # Ogg Opus. Telephone audio is narrowband already: 16 kbit/s SILK in 60 ms frames keeps it
    # whole, and the lowest encoder complexity costs a third of the default's CPU time.
    "opus": Codec(
        "opus",
        "libopus",
        "16k",
        ("-application", "voip", "-frame_duration", "60", "-compression_level", "0"),
    ),
    "mp3": Codec("mp3", "libmp3lame", "16k"),
}


def archive_path(source: Path, fmt: str) -> Path:
    return source.with_suffix(f".{fmt}")
