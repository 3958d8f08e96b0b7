"""
Training img/s of the step ``sunpy_slic.train.fit`` runs (channels-last, bf16 where supported)
against the same step in float32 NCHW, and its fraction of the matmul peak measured in the
same run.

Run from the repository root::

    python benchmarks/bench_train.py [--device cuda] [--json results.json] [--quick]

Same as ``sunpy-slic benchmark train``; ``--help`` lists every option. See benchmarks/RESULTS.md.
"""

import sys

from sunpy_slic.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "train", *sys.argv[1:]]))
