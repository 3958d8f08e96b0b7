"""
Seed-style Slic pipeline (skimage resize per frame, float32 forward one image at a time)
against ``sunpy_slic.classify`` on the same Hinode/SOT maps with the same VGG-13, in one run;
prints img/s of each, their ratio, the forward pass's fraction of this machine's matmul peak
(measured in the same run) and what bf16 does to the bundled model's probabilities.

Run from the repository root::

    python benchmarks/bench_classify.py [--device cuda] [--json results.json] [--quick]

Same as ``sunpy-slic benchmark classify``; ``--help`` lists every option. See benchmarks/RESULTS.md.
"""

import sys

from sunpy_slic.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", "classify", *sys.argv[1:]]))
