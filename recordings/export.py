"""Copying a recording out of the archive for someone, checked and written to the audit log."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from hotline.core.vocabulary import DomainError

from .index import RecordingRestricted, audit, file_sha256, get_recording


class ExportError(DomainError):
    pass


def export(
    session: Session,
    recording_id: int,
    dest: Path,
    *,
    allow_restricted: bool = False,
    by: str,
) -> Path:
    """Copy the recording to `dest` (a file, or a folder to put it in); returns the copy's path.

    The copy must match the index's checksum; a refused or failed export is logged as well.
    """
    try:
        rec = get_recording(session, recording_id, allow_restricted=allow_restricted)
    except RecordingRestricted:
        audit.warning("export of restricted recording %s by %s refused", recording_id, by)
        raise
    source = Path(rec.path)
    target = dest / source.name if dest.is_dir() else dest
    if not source.is_file():
        raise ExportError(f"recording {rec.id}: file {source} is missing")
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        shutil.copyfile(source, part)
        if file_sha256(part) != rec.sha256:
            audit.warning("export of recording %s by %s failed: checksum mismatch", rec.id, by)
            raise ExportError(f"recording {rec.id}: {source} does not match its checksum")
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    audit.info(
        "export recording %s kind=%s restricted=%s path=%s to %s by %s",
        rec.id,
        rec.kind,
        rec.restricted,
        rec.path,
        target,
        by,
    )
    return target
