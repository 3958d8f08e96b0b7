"""
Write the measured figures and the training lineage into a weights file, tensors unchanged.

The held-out figures of the bundled weights (``meta.metrics``) are measured by the benchmark
scripts after training, and a model made in several stages (``--init``) records each stage's
command in ``meta.extra["lineage"]``. This script puts them into the file; the tensors and their
SHA-256 stay byte-identical (checked)::

    .venv/bin/python scripts/annotate_weights.py IN.safetensors OUT.safetensors --json notes.json \
        [--replace-metrics]

``notes.json`` holds any of ``{"metrics": {...}, "extra": {...}, "provenance": {...},
"preprocess": {...}}``: each is merged into the file's own (a key given replaces the file's); the
preprocessing settings given replace those of the file's `~sunpy_slic.preprocessing.PreprocessSpec`
(e.g. ``{"preprocess": {"mask_artefacts": true}}``); ``"lineage_step": {...}`` is appended to the
file's ``extra["lineage"]`` (a step that changed no tensor: its command, minutes and a note).
"""

import argparse
import json
from pathlib import Path

from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.weights import read_weights, update_weights_metadata


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--replace-metrics", action="store_true", help="the metrics replace the file's")
    args = p.parse_args(argv)
    notes = json.loads(args.json.read_text())
    unknown = set(notes) - {"metrics", "extra", "provenance", "preprocess", "lineage_step"}
    if unknown:
        msg = (
            f"{args.json}: only 'metrics', 'extra', 'provenance', 'preprocess' and 'lineage_step' "
            f"can be set, got {sorted(unknown)}"
        )
        raise ValueError(msg)
    meta = read_weights(args.weights)[1]
    if "preprocess" in notes:
        notes["preprocess"] = PreprocessSpec.from_dict({**meta.preprocess.to_dict(), **notes["preprocess"]})
    if "lineage_step" in notes:
        lineage = [*meta.extra.get("lineage", []), notes.pop("lineage_step")]
        notes["extra"] = {**notes.get("extra", {}), "lineage": lineage}
    replace = ["metrics"] if args.replace_metrics else []
    # update_weights_metadata reads the file back and raises if its tensors changed.
    again = update_weights_metadata(args.weights, args.out, **notes, replace=replace)
    print(f"{args.out}: tensors {again.sha256[:16]} unchanged; metrics {sorted(again.metrics)}")


if __name__ == "__main__":
    main()
