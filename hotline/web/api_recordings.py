"""Recordings: the index and the audio. Restricted (complaint) recordings are a supervisor's to
hear, with a reason, and each such read is written to the audit trail by `recordings/index.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline import serialise
from hotline.core.models import Recording
from hotline.core.users import UserRole
from hotline.recordings import index
from hotline.recordings.audit import Access

from .api_office import ID
from .declare import API, Param
from .errors import ApiError
from .schemas import items, ref
from .server import Call, FileReply

AGENT, SUPERVISOR = UserRole.AGENT, UserRole.SUPERVISOR
REASON = Param("reason", description="why (required for a restricted recording; audited)")
MEDIA_TYPES = {"wav": "audio/wav", "opus": "audio/ogg", "ogg": "audio/ogg", "mp3": "audio/mpeg"}


def _access(call: Call, restricted: bool) -> Access:
    if restricted and not call.who.may(SUPERVISOR):
        raise ApiError("forbidden", "restricted recordings (complaints) are for supervisors")
    return Access(call.who.name, call.params["reason"] or "", restricted)


@API.route(
    "GET",
    "/recordings",
    "Indexed recordings, oldest first",
    role=AGENT,
    query=(
        Param("ticket", "integer"),
        Param("call", "integer"),
        Param("state", enum=("pending", "converting", "archived", "failed")),
        Param("include_restricted", "boolean", description="supervisors, with a reason"),
        REASON,
    ),
    response=items("Recording"),
    tag="recordings",
    audited=True,
)
def list_recordings(call: Call) -> dict[str, Any]:
    p = call.params
    found = index.list_recordings(
        call.session,
        access=_access(call, bool(p["include_restricted"])),
        ticket_id=p["ticket"],
        call_id=p["call"],
        state=p["state"],
        at=call.now,
    )
    return {"items": [serialise.recording(r, call.tz) for r in found]}


def _readable(call: Call) -> Recording:
    """The recording, if the caller may read it; a restricted one's read is audited."""
    found = index.find_recording(call.session, call.params["id"])
    access = _access(call, found.restricted)
    return index.get_recording(call.session, found.id, access=access, at=call.now)


@API.route(
    "GET",
    "/recordings/{id}",
    "One recording's index row",
    role=AGENT,
    path_params=(ID,),
    query=(REASON,),
    response=ref("Recording"),
    tag="recordings",
    audited=True,
)
def get_recording(call: Call) -> dict[str, Any]:
    return serialise.recording(_readable(call), call.tz)


@API.route(
    "GET",
    "/recordings/{id}/audio",
    "The recording's audio (WAV, Opus or MP3)",
    role=AGENT,
    path_params=(ID,),
    query=(REASON,),
    media_type="audio/*",
    tag="recordings",
    audited=True,
)
def stream_recording(call: Call) -> FileReply:
    recording = _readable(call)
    path = Path(recording.path)
    if not path.resolve().is_relative_to(call.app.settings.recordings_dir.resolve()):
        raise ApiError("not_found", f"recording {recording.id}: its file is not in the archive")
    if not path.is_file():
        raise ApiError("not_found", f"recording {recording.id}: file {path.name} is missing")
    media = MEDIA_TYPES.get(recording.format, "application/octet-stream")
    return FileReply(path, media, {"Cache-Control": "no-store"})
