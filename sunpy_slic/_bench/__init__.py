"""
Benchmarks of sunpy-slic (speed and memory against baselines measured in the same run).

Nothing in the package imports this subpackage; the ``sunpy-slic benchmark`` command loads it when
it runs, and the scripts in ``benchmarks/`` call it.
"""
