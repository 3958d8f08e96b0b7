"""``python -m sunpy_slic`` runs the ``sunpy-slic`` command line."""

import sys

from sunpy_slic.cli import main

if __name__ == "__main__":
    sys.exit(main())
