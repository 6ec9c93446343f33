"""Forking executors keep the collector off the heap their workers share (executors/heap.py):
the parent's heap is frozen while its workers live, and each forked worker freezes what it
inherited."""

from __future__ import annotations

import gc

import pytest

from distenv.executors import get_executor_class

from . import jobs

pytestmark = pytest.mark.timeout(120)

FORKING = ("pool", "process")
BALLAST = 50_000  # objects the collector would examine; far more than a worker makes


@pytest.fixture
def unfrozen():
    """Start and end with nothing frozen (the assertions count frozen objects)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("kind", FORKING)
def test_the_parent_heap_is_frozen_while_the_workers_live(kind, unfrozen, no_leftover_processes):
    ballast = [[] for _ in range(BALLAST)]
    with get_executor_class(kind)(ncores=2) as executor:
        assert executor.submit(jobs.square, 3).result() == 9
        assert gc.get_freeze_count() >= BALLAST
        assert len(gc.get_objects()) < BALLAST
        tracked, frozen = executor.submit(jobs.collector_view).result()
        assert frozen >= BALLAST and tracked < BALLAST
    assert gc.get_freeze_count() == 0  # all back in the collector's care
    assert len(gc.get_objects()) >= BALLAST
    del ballast


@pytest.mark.parametrize("kind", FORKING)
def test_a_worker_freezes_what_it_inherits_even_if_the_parent_does_not(kind, unfrozen,
                                                                      no_leftover_processes):
    gc.freeze()  # the caller manages freezing itself: executors leave its heap alone
    own = gc.get_freeze_count()
    ballast = [[] for _ in range(BALLAST)]  # made after the caller's freeze: not frozen
    with get_executor_class(kind)(ncores=2) as executor:
        tracked, frozen = executor.submit(jobs.collector_view).result()
        assert gc.get_freeze_count() <= own  # nothing frozen in the parent (frees only)
        assert len(gc.get_objects()) >= BALLAST
    assert tracked < BALLAST and frozen >= own + BALLAST  # the worker froze the ballast
    assert 0 < gc.get_freeze_count() <= own  # not unfrozen: it was not ours
    del ballast


def test_the_heap_stays_frozen_until_the_last_executor_ends(unfrozen, no_leftover_processes):
    pool, process = get_executor_class("pool"), get_executor_class("process")
    ballast = [[] for _ in range(BALLAST)]
    first = pool(ncores=1)
    second = process(ncores=1)
    try:
        assert first.submit(jobs.square, 2).result() == 4
        assert second.submit(jobs.square, 3).result() == 9
        assert gc.get_freeze_count() >= BALLAST
        first.shutdown(wait=True)
        assert gc.get_freeze_count() >= BALLAST  # the second one's workers still live
    finally:
        first.shutdown(wait=True)
        second.shutdown(wait=True)
    assert gc.get_freeze_count() == 0
    del ballast


def test_serial_executor_leaves_the_heap_alone(unfrozen):
    with get_executor_class("serial")() as executor:
        assert executor.submit(jobs.square, 3).result() == 9
        assert gc.get_freeze_count() == 0
