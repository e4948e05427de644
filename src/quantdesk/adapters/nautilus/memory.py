"""Handing memory back to the operating system between the engine run and the analysis.

An engine run frees hundreds of MB when it is disposed, but the allocators keep them: glibc
holds freed heap pages and Arrow's pool holds its own. Returning them at this one point keeps
a backtest's peak at the engine's peak instead of engine + analysis.
"""

import ctypes
import gc
from collections.abc import Callable
from functools import cache

import pyarrow as pa


@cache  # looked up on first use, not at import
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up in the running process (no subprocess, no path)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> None:
    """Collect cycles, then give free heap and Arrow pool pages back to the system."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
LARGE_BLOCK_BYTES = 1 << 20


@cache
def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


def configure_allocators() -> None:
    """One heap for the engine, Arrow and numpy, which hands large blocks back when freed.

    Arrow's own pool (mimalloc) keeps what it frees for Arrow alone: memory the catalog
    reader used during the run could not serve the analysis after it, and a backtest's peak
    became the sum of both phases. So Arrow allocates from the C heap.

    glibc maps blocks above a threshold on their own and unmaps them when freed, but it raises
    that threshold to the largest block freed so far (up to 32 MB). From then on the 8 MB
    columns of a million-bar analysis come from the heap and stay there when freed, and each
    step's temporaries add to the peak. A fixed threshold of 1 MiB keeps large blocks going
    back at once; smaller ones, the engine's, are unaffected.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)
