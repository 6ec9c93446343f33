"""Frozen input: a job, its arguments and a large payload handed to workers once.

``executor.freeze(job, trajectory, *args)`` registers the call in this process and returns a
:class:`FrozenCall`, a handle that pickles to its key only. Workers forked afterwards inherit
the registry (nothing is pickled at all); workers that cannot inherit it (another start method,
or workers already running) receive it once, at start or once per worker. Tasks then send the
small handle plus their own arguments: pypet pickled the trajectory for every run instead.
"""

from __future__ import annotations

import functools
import itertools
import threading
from typing import Any, Callable

_REGISTRY: dict[str, tuple[Callable[..., Any], tuple, dict]] = {}
_counter = itertools.count()
_lock = threading.Lock()


class FrozenCall:
    """A picklable handle to a callable frozen with its leading arguments.

    Calling ``handle(*args, **kwargs)`` calls ``fn(*frozen_args, *args, **frozen_kwargs,
    **kwargs)`` in whatever process runs it, provided that process holds the entry
    (inherited by fork or installed by the executor).
    """

    __slots__ = ("key", "_resolved")

    def __init__(self, key: str):
        self.key = key
        self._resolved: tuple[Callable[..., Any], tuple, dict] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn, frozen_args, frozen_kwargs = self._resolved or self._resolve()
        if kwargs:
            return fn(*frozen_args, *args, **{**frozen_kwargs, **kwargs})
        return fn(*frozen_args, *args, **frozen_kwargs)

    def direct(self) -> Callable[..., Any]:
        """The frozen call as a :func:`functools.partial` (called per task by a worker's
        loop: no Python frame of this class's ``__call__`` per task)."""
        fn, frozen_args, frozen_kwargs = self._resolve()
        return functools.partial(fn, *frozen_args, **frozen_kwargs)

    def _resolve(self) -> tuple[Callable[..., Any], tuple, dict]:
        resolved = self._resolved
        if resolved is None:
            try:
                resolved = self._resolved = _REGISTRY[self.key]
            except KeyError:
                raise RuntimeError(
                    f"frozen input {self.key!r} is not available in this process; was the "
                    "executor shut down, or the handle used with another executor?") from None
        return resolved

    def __reduce__(self) -> tuple:
        return (FrozenCall, (self.key,))

    def __repr__(self) -> str:
        entry = _REGISTRY.get(self.key)
        target = getattr(entry[0], "__qualname__", repr(entry[0])) if entry else "?"
        return f"FrozenCall({self.key!r} -> {target})"


def freeze(owner: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> FrozenCall:
    """Register ``fn`` with its frozen arguments under a key owned by ``owner``."""
    if not callable(fn):
        raise TypeError(f"freeze() needs a callable, got {fn!r}")
    with _lock:
        key = f"{owner}:{next(_counter)}"
        _REGISTRY[key] = (fn, tuple(args), dict(kwargs))
    return FrozenCall(key)


def entries(owner: str) -> dict[str, tuple[Callable[..., Any], tuple, dict]]:
    """The entries registered by ``owner`` (to ship to workers that cannot inherit them)."""
    prefix = owner + ":"
    with _lock:
        return {key: value for key, value in _REGISTRY.items() if key.startswith(prefix)}


def lookup(key: str) -> tuple[Callable[..., Any], tuple, dict]:
    """The ``(fn, args, kwargs)`` registered under ``key``."""
    with _lock:
        return _REGISTRY[key]


def install(new_entries: dict[str, tuple[Callable[..., Any], tuple, dict]]) -> None:
    """Add entries received from the parent (worker side)."""
    with _lock:
        _REGISTRY.update(new_entries)


def release(owner: str) -> None:
    """Forget every entry of ``owner`` so the payload can be garbage-collected."""
    prefix = owner + ":"
    with _lock:
        for key in [key for key in _REGISTRY if key.startswith(prefix)]:
            del _REGISTRY[key]
