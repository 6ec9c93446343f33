"""Choosing the storage service: ``storage_service=`` plus the storage keywords.

``storage_service`` may be a class (built here with the storage keywords, so a bad keyword fails
before anything is written), a dotted import string (pypet's ``'pypet.HDF5StorageService'``
works) or a ready service object. ``lazy_debug`` under a debugger and ``use_hdf5=False`` swap in
:class:`LazyStorageService`, which writes nothing.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Mapping

from distenv.environment import checks
from distenv.environment.specs import StorageSpec
from distenv.errors import ConfigurationError
from distenv.storage import HDF5StorageService


class _NullJournal:
    """Accepts finished runs and forgets them."""

    def store_run(self, traj: Any, index: int, leaves: list, status: int, start: float,
                  finish: float, error: str = "", run_keys: list | None = None,
                  host: str | None = None, pid: int | None = None) -> None:
        for leaf in leaves:
            leaf._stored = True

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class LazyStorageService:
    """A storage service that stores nothing and creates no file (pypet's lazy service).

    Used for ``lazy_debug=True`` when a debugger is attached, and for ``use_hdf5=False``.
    Loading from it raises :class:`~distenv.errors.StorageError`.
    """

    kind = "none"

    def run_journal(self, traj: Any, env_hash: str = "") -> _NullJournal:
        return _NullJournal()

    def store_trajectory(self, traj: Any, only_init: bool = False) -> None:
        return None

    def store_leaves(self, traj: Any, leaves: Any) -> None:
        return None

    def trajectory_names(self, trajectory_name: str = "") -> list[str]:
        return []

    def load_trajectory(self, traj: Any, **options: Any) -> None:
        from distenv.errors import StorageError
        raise StorageError("LazyStorageService stores nothing, so there is nothing to load "
                           "(lazy_debug under a debugger, or use_hdf5=False)")

    load_subtree = load_trajectory


#: Short names accepted in dotted strings, also under pypet's module names.
KNOWN_SERVICES = {"HDF5StorageService": HDF5StorageService,
                  "LazyStorageService": LazyStorageService}


def service_class(value: Any) -> type | None:
    """The class a ``storage_service`` value names, or ``None`` for a service object."""
    if isinstance(value, type):
        return value
    if not isinstance(value, str):
        return None
    module_name, _, class_name = value.rpartition(".")
    if module_name.split(".")[0] in ("pypet", "distenv") and class_name in KNOWN_SERVICES:
        return KNOWN_SERVICES[class_name]
    try:
        found = getattr(importlib.import_module(module_name), class_name) if module_name else None
    except (ImportError, AttributeError) as exc:
        raise checks.invalid("storage_service", value, "cannot import it (%s)" % exc) from exc
    if not isinstance(found, type):
        raise checks.invalid("storage_service", value,
                             "must name a class such as 'distenv.HDF5StorageService'")
    return found


def constructor_keywords(cls: type | None) -> tuple[dict[str, Any], bool]:
    """``({keyword: default}, takes_any_keyword)`` of a service class's constructor."""
    if cls is None:
        return {}, False
    parameters = list(inspect.signature(cls).parameters.values())
    named = {p.name: p.default for p in parameters
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return named, any(p.kind is p.VAR_KEYWORD for p in parameters)


def build_storage(value: Any, keywords: Mapping[str, Any], existing_trajectory: Any,
                  nothing_stored_because: str) -> StorageSpec:
    """Make (or adopt) the storage service; every storage keyword is checked here.

    Parameters
    ----------
    value:
        The ``storage_service`` keyword (class, dotted string or object).
    keywords:
        The storage keywords (``filename``, ``complevel``, ...).
    existing_trajectory:
        A Trajectory passed to the Environment, or ``None``.
    nothing_stored_because:
        Non-empty to use :class:`LazyStorageService` (the reason is recorded).

    Raises
    ------
    ConfigurationError
        A bad storage keyword or value; keywords together with a service object.
    """
    own = getattr(existing_trajectory, "_storage_service", None)
    if own is not None and (keywords or value != "distenv.HDF5StorageService"):
        given = ", ".join("%s=%r" % item for item in keywords.items()) or \
            "storage_service=%r" % (value,)
        raise ConfigurationError(
            "the trajectory %r already has a storage service (%s), so %s cannot apply; "
            "configure that service, or pass a trajectory made without one"
            % (existing_trajectory.v_name, type(own).__name__, given))
    cls = service_class(value)
    if cls is None:
        if keywords:
            raise ConfigurationError(
                "storage keywords %s were given together with the service object %r; "
                "pass the service class instead, or configure the object yourself"
                % (", ".join(sorted(keywords)), value))
        service = value
    elif own is not None:
        service = own
    else:
        service = _construct(cls, keywords)
    if nothing_stored_because:
        return StorageSpec(LazyStorageService(), "none", nothing_stored_because,
                           tuple(keywords.items()))
    kind = getattr(service, "kind", "hdf5" if isinstance(service, HDF5StorageService)
                   else type(service).__name__)
    return StorageSpec(service, kind, "", tuple(keywords.items()))


def _construct(cls: type, keywords: Mapping[str, Any]) -> Any:
    named, _ = constructor_keywords(cls)
    checked = dict(keywords)
    for name, value in keywords.items():
        if isinstance(named.get(name), bool):
            checked[name] = checks.boolean(name, value)
    try:
        return cls(**checked)
    except ConfigurationError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigurationError("the storage service %s rejected the storage keywords %s: %s"
                                 % (cls.__name__, checked, exc)) from exc
