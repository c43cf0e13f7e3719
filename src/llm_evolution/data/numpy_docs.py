"""A second domain for chapter 10: NumPy's reference documentation, read from the installed
package with :mod:`inspect`, so it ships offline with the lock's NumPy (``numpy==2.4.6``).

The docstrings of every public callable in NumPy's top-level namespace: about 460 of them
and 0.9 million characters, as much text as the eight plays, in a register the plays never
use ("Parameters", "array_like", "axis : int, optional", examples after ``>>>``). Every tenth
function by name is held out, so held-out text is whole docstrings the model never read.
"""

from __future__ import annotations

import hashlib
import inspect
from functools import lru_cache

HELD_OUT_EVERY = 10


@lru_cache(maxsize=1)
def numpy_docstrings() -> dict[str, str]:
    """Public name -> its docstring (cleaned by :func:`inspect.getdoc`), sorted by name."""
    import numpy

    docs = {}
    for name in sorted(dir(numpy)):
        if name.startswith("_"):
            continue
        obj = getattr(numpy, name)
        doc = inspect.getdoc(obj) if callable(obj) else None
        if doc:
            docs[name] = doc
    return docs


@lru_cache(maxsize=1)
def docs_train_val() -> tuple[str, str]:
    """(training text, held-out text): the docstrings joined by blank lines, every
    ``HELD_OUT_EVERY``-th name held out."""
    train, held_out = [], []
    for i, doc in enumerate(numpy_docstrings().values()):
        (held_out if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else train).append(doc)
    return "\n\n".join(train), "\n\n".join(held_out)


def docs_fingerprint() -> str:
    """sha256 of the text: a model trained on it retrains if another NumPy changes it."""
    train, held_out = docs_train_val()
    return hashlib.sha256(f"{train}\x00{held_out}".encode()).hexdigest()
