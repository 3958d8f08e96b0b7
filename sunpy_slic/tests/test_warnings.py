"""Warnings raised in reader threads: none lost, none leaked, filters left as they were."""

import threading
import warnings

import numpy as np
import pytest
import torch

from sunpy_slic import classify
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.model import SlicNet
from sunpy_slic.warning_filters import collected, quiet


def _interleaved(block):
    """Threads A and B enter ``block`` in turn, then A leaves first: catch_warnings' bad order."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with block():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with block():
            b_in.set()
            a_out.wait(5)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)


def _catch_and_ignore():
    cm = warnings.catch_warnings()

    class Block:
        def __enter__(self):
            cm.__enter__()
            warnings.simplefilter("ignore")

        def __exit__(self, *exc):
            return cm.__exit__(*exc)

    return Block()


def test_catch_warnings_in_two_threads_leaves_the_filters_changed():
    """Why the package does not silence warnings with catch_warnings in reader threads."""
    with warnings.catch_warnings():
        before = list(warnings.filters)
        _interleaved(_catch_and_ignore)
        assert warnings.filters != before  # B put back the "ignore" that A had set


def test_quiet_in_two_threads_under_collected_leaves_the_filters_alone():
    with warnings.catch_warnings():
        before = list(warnings.filters)
        with collected():
            _interleaved(quiet)
        assert warnings.filters == before


def test_collected_drops_quiet_warnings_and_gives_the_others_in_order():
    def reader(k):
        with quiet():
            warnings.warn(f"header noise {k}", UserWarning)
        warnings.warn(f"low contrast {k}", SlicWarning)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with collected():
            for k in range(3):
                t = threading.Thread(target=reader, args=(k,))
                t.start()
                t.join()
            assert seen == []  # gathered, not yet given
    assert [str(w.message) for w in seen] == ["low contrast 0", "low contrast 1", "low contrast 2"]
    assert all(w.category is SlicWarning for w in seen)


def test_collected_gives_warnings_under_the_callers_filters():
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlicWarning)

        def run():
            with collected():
                t = threading.Thread(target=warnings.warn, args=("worth knowing", SlicWarning))
                t.start()
                t.join()  # the thread itself does not raise: "always" is in force while collecting

        with pytest.raises(SlicWarning, match="worth knowing"):
            run()


def test_classify_in_threads_reports_a_low_contrast_image_and_keeps_the_filters(tmp_path):
    torch.manual_seed(0)
    model = SlicNet(image_size=32).eval()
    rng = np.random.default_rng(0)
    images = [rng.normal(1000, 100, (48, 48)).astype(np.float32) for _ in range(12)]
    images[7] = np.full((48, 48), 1000.0, np.float32) + rng.normal(0, 1e-4, (48, 48)).astype(np.float32)
    before = list(warnings.filters)
    with pytest.warns(SlicWarning, match="image 7 has very low contrast"):
        table = classify(images, model=model, num_workers=4, batch_size=4, progress=False)
    assert len(table) == 12
    assert warnings.filters == before
