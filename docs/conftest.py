"""
pytest collects the reStructuredText pages of this folder as doctests (``--doctest-rst``); these
are files it must not import or read.
"""

# conf.py runs towncrier and changes warning filters when imported; api/ and generated/ are written
# by the documentation build.
collect_ignore = ["conf.py"]
collect_ignore_glob = ["api/*", "generated/*", "_build/*"]
