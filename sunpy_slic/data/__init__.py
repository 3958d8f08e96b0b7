"""
Sample data, synthetic maps and training datasets.
"""

from pathlib import Path

__all__ = ["SAMPLE_DIR", "sample_files"]

#: The folder of bundled sample files.
SAMPLE_DIR = Path(__file__).parent / "sample"


def sample_files():
    """
    Return the bundled Hinode/SOT sample frames, sorted by time.

    Six level-0 Hinode/SOT Fe I 5576 Å frames of a sunspot (2011-10-08 11:15–11:20 UT). Hinode is a
    Japanese mission developed and launched by ISAS/JAXA, with NAOJ as domestic partner and NASA and
    STFC (UK) as international partners; it is operated by these agencies in co-operation with ESA
    and NSC (Norway).

    Returns
    -------
    list of `pathlib.Path`

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> len(sample_files())
    6
    """
    return sorted(SAMPLE_DIR.glob("FG*.fits.gz"))
