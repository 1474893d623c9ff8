"""hotline: the phone side of a property-management customer-service centre."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotline")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"
