"""Executors by name: ``get_executor_class("pool")``.

Built-in local backends are registered here; cluster backends register by dotted path so that
their optional dependencies are imported only when asked for::

    register_executor("dask", "distenv.executors.dask:DaskExecutor",
                      requires=("distributed",), extra="dask")

Asking for a backend whose dependency is missing raises
:class:`~distenv.errors.MissingDependencyError` saying what to ``pip install``; an unknown name
raises :class:`~distenv.errors.ConfigurationError` listing the registered names.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from distenv.errors import ConfigurationError, MissingDependencyError
from distenv.executors.base import DistenvExecutor


@dataclass(frozen=True)
class _Entry:
    target: type[DistenvExecutor] | str
    requires: tuple[str, ...] = ()
    extra: str | None = None


_REGISTRY: dict[str, _Entry] = {}


def register_executor(name: str, target: type[DistenvExecutor] | str, *,
                      requires: tuple[str, ...] | list[str] = (), extra: str | None = None,
                      replace: bool = False) -> None:
    """Register an executor class, or the dotted path ``"package.module:Class"`` of one.

    Parameters
    ----------
    name
        The registry name (``executor=`` of the Environment).
    target
        The class, or its dotted path imported on first use.
    requires
        Importable module names the backend needs (checked before importing ``target``).
    extra
        The distenv extra that installs them (``pip install distenv[extra]``).
    replace
        Allow replacing an existing registration.

    Raises
    ------
    ValueError
        ``name`` is taken and ``replace`` is false.
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"an executor named {name!r} is already registered")
    _REGISTRY[name] = _Entry(target, tuple(requires), extra)


def unregister_executor(name: str) -> None:
    """Remove a registration (tests, plugins)."""
    _REGISTRY.pop(name, None)


def available_executors() -> list[str]:
    """The registered names, sorted."""
    return sorted(_REGISTRY)


def _missing(name: str, entry: _Entry, module: str) -> MissingDependencyError:
    packages = " ".join(entry.requires) or module
    how = (f"pip install 'distenv[{entry.extra}]'" if entry.extra
           else f"pip install {packages}")
    return MissingDependencyError(
        f"the {name!r} executor needs {module!r}, which is not installed; {how}")


def get_executor_class(name: str) -> type[DistenvExecutor]:
    """The executor class registered as ``name`` (importing it if registered by path).

    Raises
    ------
    ConfigurationError
        No executor of that name; the message lists the registered names.
    MissingDependencyError
        The backend's optional dependency is not installed; the message says what to install.
    """
    try:
        entry = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown executor {name!r}; registered executors: "
            f"{', '.join(available_executors())}") from None
    if not isinstance(entry.target, str):
        return entry.target
    for module in entry.requires:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise _missing(name, entry, module)
    module_name, _, attribute = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("distenv"):
            raise _missing(name, entry, exc.name) from exc
        raise
    cls = getattr(module, attribute)
    _REGISTRY[name] = _Entry(cls, entry.requires, entry.extra)
    return cls


def create_executor(name: str, **options: Any) -> DistenvExecutor:
    """Build the executor registered as ``name`` with its keyword ``options``."""
    return get_executor_class(name)(**options)


register_executor("serial", "distenv.executors.serial:SerialExecutor")
register_executor("pool", "distenv.executors.pool:PoolExecutor")
register_executor("process", "distenv.executors.process:ProcessExecutor")
