"""File names from the network: one helper, nothing outside the recordings folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.recordings.names import MAX_NAME, recording_path, safe_name

HOSTILE = ["../../../../tmp/x", "..", ".", "", "/etc/passwd", "a\nb", "a\x00b", "x" * 500, "王-1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_name_from_the_network_stays_in_its_folder(text: str, tmp_path: Path) -> None:
    folder = tmp_path / "recordings" / "calls"
    path = recording_path(folder, text, ".wav")
    assert path.parent == folder and path.resolve().parent == folder.resolve()
    name = safe_name(text)
    assert name and not name.startswith(".") and len(name) <= MAX_NAME
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


def test_asterisk_uniqueids_and_call_ids_are_kept_as_they_are() -> None:
    for text in ("1795327992.1", "pbx1-1795327992.17", "c-20261123-000042"):
        assert safe_name(text) == text
