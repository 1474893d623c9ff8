import sys

from hotline.cli import run

sys.exit(run())
