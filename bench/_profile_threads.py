"""Run a module under cProfile in every thread, the reactor's and the database pool's alike (the
profile module sees only the thread it was started in), timed by each thread's CPU clock; the
threads' figures are merged into one pstats file when the process exits.

    python bench/_profile_threads.py OUT.pstats -m hotline.cli serve
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
import time
from types import FrameType
from typing import Any

_profiles: list[cProfile.Profile] = []


def _profile_this_thread(frame: FrameType, event: str, arg: Any) -> None:
    """Installed by threading.setprofile in each new thread: hands the thread to cProfile."""
    sys.setprofile(None)
    # Each thread's own CPU time: wall time would count the waits for the GIL and the socket.
    profile = cProfile.Profile(time.thread_time_ns, 1e-9)
    _profiles.append(profile)
    profile.enable()


def _dump(out: str) -> None:
    for profile in _profiles:
        profile.disable()
    stats = pstats.Stats(_profiles[0])
    for profile in _profiles[1:]:
        stats.add(profile)
    stats.dump_stats(out)


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit(__doc__)
    sys.argv = [module, *args]
    threading.setprofile(_profile_this_thread)
    atexit.register(_dump, out)
    _profile_this_thread(sys._getframe(), "call", None)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
