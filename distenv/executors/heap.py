"""The parent's heap kept out of the garbage collector while workers are forked from it.

A forked worker shares the parent's memory pages until one side writes to them, and
CPython's cyclic garbage collector writes to every object it examines. So a full collection
in the parent, or in a worker, makes the kernel copy page after page of the parent's heap
(measured: one full collection of the main process took 0.5 s right after the workers of a
20,000-run sweep were forked, against ~5 ms without children), and it examines objects that
live for the whole sweep anyway (the trajectory, imported modules).

:func:`hold` (an executor's dispatcher, before it forks) moves every object that exists
into the permanent generation (:func:`gc.freeze`); :func:`release` (once its workers are
gone) moves them back (:func:`gc.unfreeze`) when the last holder ends. Workers freeze what
they inherit as their first step. Objects made in the meantime are collected as usual, and
frozen objects that become garbage are collected after the unfreeze: nothing is lost, it is
only collected later. A process that froze its heap itself (``gc.get_freeze_count()``
already non-zero) is left alone.
"""

from __future__ import annotations

import gc
import os
import threading

_lock = threading.Lock()
_holders = 0
_owned = False  # the frozen objects were frozen here (and are unfrozen here)


def hold() -> None:
    """One more executor forks workers: freeze what exists now."""
    global _holders, _owned
    with _lock:
        if _holders == 0:
            _owned = gc.get_freeze_count() == 0
        _holders += 1
        if _owned:
            gc.freeze()


def release() -> None:
    """That executor's workers are gone; the last one unfreezes."""
    global _holders, _owned
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0 and _owned:
            _owned = False
            gc.unfreeze()


def _forget() -> None:
    """In a forked child: the parent's holders are not this process's."""
    global _holders, _owned, _lock
    _lock = threading.Lock()
    _holders, _owned = 0, False


os.register_at_fork(after_in_child=_forget)
