"""hotline: the phone side of a property-management customer-service centre."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata alone costs ~45 ms of every command's start-up.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hotline")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"
