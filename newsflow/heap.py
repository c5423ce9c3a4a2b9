"""Give freed heap memory back to the operating system.

glibc keeps freed small blocks inside the heap for reuse and returns pages only from its top,
so after a large, short-lived structure (a window of 100,000 articles being read, a tokenizer
being replaced) the process keeps its peak size although most of it is free. ``malloc_trim``
returns every free page of the heap. Elsewhere (musl, macOS) the call does not exist and the
memory is reused by the process instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError, TypeError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    return None


def trim() -> None:
    """Return the heap's free pages to the system (a no-op where the C library cannot)."""
    if (malloc_trim := _malloc_trim()) is not None:
        malloc_trim(0)
