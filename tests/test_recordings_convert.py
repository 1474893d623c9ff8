from __future__ import annotations

from pathlib import Path

import pytest
from pydub import AudioSegment

from hotline.recordings import convert as convert_module
from hotline.recordings.convert import (
    ConversionError,
    FfmpegMissing,
    convert,
    decoded_seconds,
    remove_partials,
)
from hotline.recordings.index import file_sha256

from wavs import write_wav


@pytest.mark.parametrize("fmt", ["opus", "mp3"])
def test_conversion_is_verified_by_re_reading(tmp_path: Path, fmt: str) -> None:
    source = write_wav(tmp_path / "calls" / "1732260000.7.wav", 7.25, seed=1)
    archive = convert(source, fmt)
    assert archive.path == tmp_path / "calls" / f"1732260000.7.{fmt}"
    again = AudioSegment.from_file(archive.path)
    assert abs(len(again) / 1000 - 7.25) <= 0.05
    assert again.channels == 1
    assert archive.duration == pytest.approx(7.25, abs=0.05)
    assert archive.size == archive.path.stat().st_size < source.stat().st_size / 4
    assert archive.sha256 == file_sha256(archive.path)
    # The source is the caller's to remove, and no temporary file is left behind.
    assert source.exists()
    assert sorted(p.name for p in archive.path.parent.iterdir()) == sorted(
        [source.name, archive.path.name]
    )


def test_normalisation_brings_a_quiet_recording_up(tmp_path: Path) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", 3, seed=2, level=0.01)
    plain = AudioSegment.from_file(convert(quiet, "mp3").path)
    loud = AudioSegment.from_file(convert(quiet, "mp3", normalise=True).path)
    assert loud.dBFS - plain.dBFS > 15
    assert loud.max_dBFS <= 0


def test_a_corrupt_wav_fails_with_the_reason_and_leaves_no_archive(tmp_path: Path) -> None:
    source = tmp_path / "broken.wav"
    source.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    with pytest.raises(ConversionError, match="cannot read source"):
        convert(source, "opus")
    assert [p.name for p in tmp_path.iterdir()] == ["broken.wav"]


def test_an_archive_that_does_not_last_as_long_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_wav(tmp_path / "a.wav", 2, seed=3)
    monkeypatch.setattr(convert_module, "decoded_seconds", lambda path: 1.9)
    with pytest.raises(ConversionError, match=r"lasts 1\.900 s but the source 2\.000 s"):
        convert(source, "opus")
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_stale_partial_archives_are_discarded(tmp_path: Path) -> None:
    target = tmp_path / "x.opus"
    part = tmp_path / ".x.opus.0123abcd.part"
    part.write_bytes(b"half an archive")
    other = tmp_path / ".y.opus.0123abcd.part"
    other.write_bytes(b"someone else's")
    assert remove_partials(target) == [part]
    assert not part.exists() and other.exists()


def test_decoded_seconds_rejects_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "g.opus"
    garbage.write_bytes(b"not an ogg stream at all" * 10)
    with pytest.raises(ConversionError, match="does not decode"):
        decoded_seconds(garbage)


def test_missing_ffmpeg_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_wav(tmp_path / "a.wav", 1)
    monkeypatch.setattr(AudioSegment, "converter", "/nonexistent/ffmpeg")
    with pytest.raises(FfmpegMissing, match="Debian package `ffmpeg`"):
        convert(source, "opus")
    assert source.exists()
