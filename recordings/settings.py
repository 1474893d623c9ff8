"""What the conversion worker is told, built by the service from the `[recordings]` settings
(`hotline.settings.RecordingSettings.conversion`): recordings does not read the application's
settings itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversionSettings:
    archive_format: str  # a codec of `archives.CODECS`
    normalise: bool
    workers: int  # conversions at a time
