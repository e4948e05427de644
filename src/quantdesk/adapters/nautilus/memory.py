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


@cache
def _mallopt() -> Callable[[int, int], int] | None:
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MAPPED_FROM_BYTES = 256 * 1024


@cache  # once per process: the setting stays
def map_large_blocks() -> None:
    """Serve allocations from 256 KB up from mappings of their own, unmapped when freed.

    Streaming work (a file ingested a chunk at a time) allocates and frees column buffers of
    a few MB over and over; glibc's default raises its mapping threshold as they are freed
    and then carves them from the heap, which fragments and keeps growing although what is
    live stays flat. A fixed threshold keeps the resident size near what is live.
    """
    mallopt = _mallopt()
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MAPPED_FROM_BYTES)


def release_freed_memory() -> None:
    """Collect cycles, then give free heap and Arrow pool pages back to the system."""
    gc.collect()
    return_free_pages()


def return_free_pages() -> None:
    """Give free heap and Arrow pool pages back to the system; no garbage collection.

    Cheap (well under a millisecond), unlike ``gc.collect`` (a third of a second with the
    engine loaded): for a loop that frees by reference counting, once per batch.
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def share_one_allocator() -> None:
    """Make Arrow allocate from the C heap, like the engine and numpy do.

    Arrow's own pool (mimalloc) keeps what it frees for Arrow alone: memory the catalog
    reader used during the run could not serve the analysis after it, and a backtest's peak
    became the sum of both phases. One shared heap lets each phase reuse the other's pages.
    """
    pa.set_memory_pool(pa.system_memory_pool())
