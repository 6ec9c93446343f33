"""Storage modes (``wrap_mode``): how the processes of one sweep share its store.

Every mode wraps the same storage interface -- the run journal of
:mod:`distenv.storage.journal` -- and adds one concern:

=========  =================================================================================
mode       where finished runs are written
=========  =================================================================================
LOCAL      workers send runs back with their results; the main process journals them
QUEUE      workers put runs on a bounded queue (``queue_maxsize``); one writer process
PIPE       workers send runs through one pipe (under a lock); one writer process
LOCK       each worker journals its own runs; shard writes take a shared lock
NONE       each worker journals its own runs, no lock (journal shards never collide)
NETLOCK    (cluster backends) lock from the lock server
NETQUEUE   (cluster backends) runs sent to the collector
=========  =================================================================================

Because every writer appends to its own write-once shard files, all modes are safe with any
number of processes; they differ in who does the writing, and so in speed and in how much a
killed process can take with it (at most its own unacknowledged runs).
"""

from __future__ import annotations

import importlib
from typing import Any

from distenv.constants import (WRAP_MODE_LOCAL, WRAP_MODE_LOCK, WRAP_MODE_NETLOCK,
                               WRAP_MODE_NETQUEUE, WRAP_MODE_NONE, WRAP_MODE_PIPE, WRAP_MODE_QUEUE)
from distenv.errors import ConfigurationError

_REGISTRY: dict[str, str] = {
    WRAP_MODE_LOCAL: "distenv.modes.local:LocalMode",
    WRAP_MODE_QUEUE: "distenv.modes.writer:QueueMode",
    WRAP_MODE_PIPE: "distenv.modes.writer:PipeMode",
    WRAP_MODE_LOCK: "distenv.modes.journaled:LockMode",
    WRAP_MODE_NONE: "distenv.modes.journaled:NoneMode",
}
#: Modes whose machinery (the zmq daemons) is not built yet.
NETWORK_MODES = (WRAP_MODE_NETLOCK, WRAP_MODE_NETQUEUE)


def available_modes() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def register_mode(name: str, target: str) -> None:
    """Register a mode class by dotted path ``'package.module:Class'`` (imported lazily)."""
    _REGISTRY[name] = target


def get_mode_class(name: str) -> type:
    if name in NETWORK_MODES and name not in _REGISTRY:
        raise NotImplementedError(
            "wrap_mode=%r needs the lock server / collector daemons, which are not built yet; "
            "use one of %s" % (name, ", ".join(_REGISTRY)))
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ConfigurationError("wrap_mode %r is unknown; valid: %s"
                                 % (name, ", ".join(_REGISTRY))) from None
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def create_mode(spec: Any) -> Any:
    """The mode object for a :class:`~distenv.environment.specs.StorageModeSpec`."""
    return get_mode_class(spec.wrap_mode)(spec)


__all__ = ["NETWORK_MODES", "available_modes", "create_mode", "get_mode_class", "register_mode"]
