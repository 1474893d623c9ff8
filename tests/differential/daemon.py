"""A long-running process of the suite (Asterisk, `hotline serve`): started, ready, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class Daemon:
    def __init__(self, what: str, output: Path) -> None:
        self.what, self.output = what, output
        self.process: subprocess.Popen[bytes] | None = None

    def launch(
        self, argv: Sequence[str], env: dict[str, str] | None, ready: Callable[[], bool]
    ) -> None:
        """Start it and wait until `ready()`; its output goes to `output`."""
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                list(argv), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.output.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.what} exited {self.process.returncode}: {tail}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.what} not ready within 60 s")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a real death, nothing flushed or closed by the process itself."""
        if self.process is not None and self.running:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or not self.running:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
