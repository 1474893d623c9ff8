"""Copying a recording out of the archive for someone, checked and written to the audit trail."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from hotline.core.vocabulary import DomainError

from . import audit
from .index import Access, check_restricted, file_sha256, find_recording


class ExportError(DomainError):
    pass


def export(
    session: Session,
    recording_id: int,
    dest: Path,
    *,
    access: Access,
    at: datetime | None = None,
) -> Path:
    """Copy the recording to `dest` (a file, or a folder to put it in); returns the copy's path.

    Every export is audited (who, why, where to); a restricted recording needs an ``access`` that
    may read it. The copy must match the index's checksum; a refused or failed export is logged.
    """
    rec = find_recording(session, recording_id)
    if rec.restricted:
        check_restricted(access, f"recording {recording_id}")
    source = Path(rec.path)
    target = dest / source.name if dest.is_dir() else dest
    if not source.is_file():
        raise ExportError(f"recording {rec.id}: file {source} is missing")
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        shutil.copyfile(source, part)
        if file_sha256(part) != rec.sha256:
            audit.log.warning(
                "export of recording %s by %s failed: checksum mismatch", rec.id, access.by
            )
            raise ExportError(f"recording {rec.id}: {source} does not match its checksum")
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    audit.record(session, "export", access, at=at, recording=rec, detail=f"to {target}")
    return target
