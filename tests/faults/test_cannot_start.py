"""`hotline serve` where it cannot work: the FastAGI port taken, the recordings folder unwritable.

Issue 9, table row 8: one clear line, but exit code 0 (a supervisor would not restart it).
As root a chmod does not stop a write, so "unwritable" is a path whose parent is a file.
"""

from __future__ import annotations

import socket

from service_process import ServiceProcess


def assert_one_line_failure(service: ServiceProcess, *words: str) -> None:
    code = service.wait_exit(30)
    assert code != 0, service.log_tail()
    errors = [line for line in service.output if "ERROR" in line or "error" in line.lower()]
    assert errors, service.log_tail()
    assert not any("Traceback" in line for line in service.output), service.log_tail()
    assert all(word in service.log_tail() for word in words), service.log_tail()


def test_fastagi_port_in_use(service: ServiceProcess) -> None:
    service.init()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", service.fastagi_port))
        taken.listen(1)
        service.start()
        assert_one_line_failure(service, str(service.fastagi_port))


def test_recordings_folder_unwritable(service: ServiceProcess) -> None:
    service.init()
    blocker = service.home / "not-a-folder"
    blocker.write_text("a file where the recordings folder's parent should be\n")
    service.env["HOTLINE_RECORDINGS_DIRECTORY"] = str(blocker / "recordings")
    service.start()
    assert_one_line_failure(service, "recordings")
