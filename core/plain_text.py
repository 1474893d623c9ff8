"""Text from files and people that ends up in protocol lines, logs and terminals: a CR or LF there
would start a second command or forge a log line, an escape sequence would rewrite a screen."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_character(text: str) -> bool:
    return _CONTROL.search(text) is not None
