"""
FITS files on disk -> results table, end to end: img/s and peak resident memory for N = 100
and N = 1000 files, each N in a fresh process; the peak RSS of the largest N is compared with
the smallest's (streaming: memory must not grow with N).

Run from the repository root::

    python benchmarks/bench_files.py [--device cuda] [--json results.json] [--quick]

Same as ``sunpy-slic benchmark files``; ``--help`` lists every option. See benchmarks/RESULTS.md.
"""

import sys

from sunpy_slic.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "files", *sys.argv[1:]]))
