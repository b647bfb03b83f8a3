"""Optional trace of every file the suite reads, for diagnostics and tests.

Set the environment variable ``EDA_LIB_TRACE`` to a file path and every image
decode and mask load appends one line, ``<kind>\\t<path>``, to it (from every
process, notebook kernels included). Unset, tracing costs one dictionary lookup.
"""

from __future__ import annotations

import os

ENV = "EDA_LIB_TRACE"


def record(kind: str, path) -> None:
    """Append ``kind`` and ``path`` to the trace file, when tracing is on."""
    target = os.environ.get(ENV)
    if target:
        with open(target, "a", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(f"{kind}\t{path}\n")
