"""Apply a dict logging configuration *additively*, and undo exactly what was applied.

:func:`logging.config.dictConfig` closes every handler of the process and replaces the root
logger's; distenv instead builds the configured formatters, filters and handlers with the
standard :class:`logging.config.DictConfigurator` and adds them to the configured loggers,
remembering each logger's old level and ``propagate``. :meth:`AppliedConfig.undo` removes and
closes the handlers it added and restores those settings; handlers someone else added stay.

Before a handler is made, the wildcards ``$env``, ``$traj``, ``$proc``, ``$host`` are replaced
in its string settings (``filename``, ``.ini`` ``args``) and the folder of its file is created.
A handler whose settings contain ``$run`` or ``$set`` becomes a :class:`PerRunHandler`.
``disable_existing_loggers`` is ignored (distenv never disables loggers) and ``incremental``
configurations are refused.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import socket
from typing import Any, Callable, Mapping

from distenv.environment import logging_hook
from distenv.environment.logging_config import make_parent_folder
from distenv.environment.logging_streams import NotFromStreams
from distenv.errors import ConfigurationError
from distenv.trajectory.naming import default_run_name, default_set_name

RUN_WILDCARD, SET_WILDCARD = "$run", "$set"
#: Keys of a handler's settings that are names, never file names.
_NOT_SUBSTITUTED = ("class", "()", "formatter", "level", "filters", "handler_class")


def process_wildcards(environment_name: str, trajectory_name: str) -> dict[str, str]:
    """``$env``, ``$traj``, ``$proc`` (process name and pid), ``$host`` (dots become '-')."""
    return {"$env": environment_name, "$traj": trajectory_name,
            "$proc": "%s_%d" % (multiprocessing.current_process().name, os.getpid()),
            "$host": socket.gethostname().replace(".", "-")}


def substitute(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with every wildcard of ``names`` replaced, inside tuples, lists and dicts."""
    if isinstance(value, str):
        if "$" in value:
            for wildcard, name in names.items():
                value = value.replace(wildcard, name)
        return value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(substitute(item, names) for item in value)
    if isinstance(value, list):
        return [substitute(item, names) for item in value]
    if isinstance(value, dict):
        return {key: item if key in _NOT_SUBSTITUTED else substitute(item, names)
                for key, item in value.items()}
    return value


def _mentions_run(value: Any) -> bool:
    if isinstance(value, str):
        return RUN_WILDCARD in value or SET_WILDCARD in value
    if isinstance(value, (tuple, list)):
        return any(_mentions_run(item) for item in value)
    if isinstance(value, dict):
        return any(_mentions_run(item) for key, item in value.items()
                   if key not in _NOT_SUBSTITUTED)
    return False


def _copy(value: Any) -> Any:
    """Copy the dicts and lists of a configuration (objects in it are shared, not copied)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class PerRunHandler(logging.Handler):
    """A file handler whose file follows the run being made (``$run``/``$set`` in its name).

    When a record arrives and the current trajectory's run index differs from the one of the
    open file, that file is closed and the handler for the new run is made. Outside runs the
    names are the dummy ones, ``run_ALL`` and ``run_set_ALL``.
    """

    def __init__(self, make: Callable[[Mapping[str, str]], logging.Handler]):
        super().__init__()
        self._make = make
        self._inner: logging.Handler | None = None
        self._index: int | None = None
        logging_hook.PER_RUN_HANDLERS.append(self)

    def handle(self, record: logging.LogRecord) -> Any:
        if not self.filter(record):
            return False
        traj = logging_hook.current_trajectory()
        index = traj.v_idx if traj is not None else -1
        with self.lock:
            if self._inner is None or index != self._index:
                self._switch(traj, index)
            assert self._inner is not None
            return self._inner.handle(record)

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() is used
        self.handle(record)

    def _switch(self, traj: Any, index: int) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
        wildcards = getattr(traj, "_wildcards", None)
        run = wildcards.run_name(index) if wildcards is not None else default_run_name(index)
        run_set = wildcards.set_name(index) if wildcards is not None else \
            default_set_name(index)
        self._inner = self._make({RUN_WILDCARD: run, SET_WILDCARD: run_set})
        self._index = index

    @property
    def current_handler(self) -> logging.Handler | None:
        """The handler of the file in use (``None`` before the first record)."""
        return self._inner

    def flush(self) -> None:
        with self.lock:
            if self._inner is not None:
                self._inner.flush()

    def close(self) -> None:
        with self.lock:
            if self._inner is not None:
                self._inner.close()
                self._inner = None
        if self in logging_hook.PER_RUN_HANDLERS:
            logging_hook.PER_RUN_HANDLERS.remove(self)
        super().close()


class AppliedConfig:
    """What one :func:`apply_config` added, so that :meth:`undo` removes exactly that."""

    def __init__(self) -> None:
        self.handlers: list[logging.Handler] = []
        #: ``(logger, old level, old propagate, old disabled, handlers added, filters added)``
        self.loggers: list[tuple] = []

    def file_names(self) -> list[str]:
        """Files of the (non per-run) file handlers, for messages and tests."""
        return [handler.baseFilename for handler in self.handlers
                if isinstance(handler, logging.FileHandler)]

    def undo(self) -> None:
        for logger, level, propagate, disabled, handlers, filters in reversed(self.loggers):
            for handler in handlers:
                logger.removeHandler(handler)
            for item in filters:
                logger.removeFilter(item)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
        for handler in self.handlers:
            try:
                handler.flush()
                handler.close()
            except (OSError, ValueError):
                pass
        self.loggers = []
        self.handlers = []


def apply_config(config: Mapping[str, Any], names: Mapping[str, str]) -> AppliedConfig:
    """Build the handlers of ``config`` and add them to its loggers.

    Parameters
    ----------
    config:
        A :func:`logging.config.dictConfig` dictionary (``version`` 1).
    names:
        Wildcards to replace in handler settings (:func:`process_wildcards`).

    Raises
    ------
    ConfigurationError
        The configuration is not valid (the message says which part); nothing stays applied.
    """
    config = _copy(dict(config))
    config.setdefault("version", 1)
    if config["version"] != 1 or config.get("incremental"):
        raise ConfigurationError("log_config: only non-incremental configurations of version 1 "
                                 "are supported, not version=%r, incremental=%r"
                                 % (config["version"], config.get("incremental", False)))
    handler_settings = config.get("handlers") or {}
    per_run = {}
    for name, settings in list(handler_settings.items()):
        if not isinstance(settings, dict):
            raise ConfigurationError("log_config: handler %r must be a dict of settings, not %r"
                                     % (name, settings))
        handler_settings[name] = substitute(settings, names)
        if _mentions_run(handler_settings[name]):
            per_run[name] = _copy(handler_settings[name])
    applied = AppliedConfig()
    configurator = logging.config.DictConfigurator(config)
    try:
        _build(configurator, per_run, applied)
    except ConfigurationError:
        applied.undo()
        raise
    except Exception as exc:
        applied.undo()
        raise ConfigurationError("log_config cannot be applied: %s%s"
                                 % (exc, ": %s" % exc.__cause__ if exc.__cause__ else "")
                                 ) from exc
    return applied


def _build(configurator: logging.config.DictConfigurator, per_run: dict,
           applied: AppliedConfig) -> None:
    config = configurator.config
    for section, make in (("formatters", configurator.configure_formatter),
                          ("filters", configurator.configure_filter)):
        items = config.get(section) or {}
        for name in list(items):
            items[name] = make(items[name])
    built: dict[str, logging.Handler] = {}
    handlers = config.get("handlers") or {}
    for name in sorted(handlers):
        if name in per_run:
            settings = per_run[name]
            handler: logging.Handler = PerRunHandler(
                lambda run_names, settings=settings: _make_handler(
                    configurator, substitute(settings, run_names)))
        else:
            handler = _make_handler(configurator, handlers[name])
        handler.name = name
        applied.handlers.append(handler)
        built[name] = handler
    if "root" in config:
        _attach(applied, configurator, logging.getLogger(), config["root"], built)
    for logger_name, settings in (config.get("loggers") or {}).items():
        _attach(applied, configurator, logging.getLogger(logger_name), settings, built)


def _make_handler(configurator: logging.config.DictConfigurator,
                  settings: Mapping[str, Any]) -> logging.Handler:
    settings = dict(settings)
    filename = settings.get("filename")
    if isinstance(filename, (str, os.PathLike)):
        make_parent_folder(filename)
    handler = configurator.configure_handler(configurator.convert(settings))
    if isinstance(handler, logging.StreamHandler) and \
            not isinstance(handler, logging.FileHandler):
        handler.addFilter(NotFromStreams())  # print output is on the console already
    return handler


def _attach(applied: AppliedConfig, configurator: logging.config.DictConfigurator,
            logger: logging.Logger, settings: Mapping[str, Any],
            built: Mapping[str, logging.Handler]) -> None:
    added_handlers, added_filters = [], []
    applied.loggers.append((logger, logger.level, logger.propagate, logger.disabled,
                            added_handlers, added_filters))
    level = settings.get("level")
    if level is not None:
        logger.setLevel(logging._checkLevel(level))  # type: ignore[attr-defined]
    if "propagate" in settings:
        logger.propagate = bool(settings["propagate"])
    logger.disabled = False
    for name in settings.get("handlers") or ():
        if name not in built:
            raise ConfigurationError("log_config: logger %r uses the handler %r, which is not "
                                     "configured (handlers: %s)"
                                     % (logger.name, name, ", ".join(sorted(built)) or "none"))
        logger.addHandler(built[name])
        added_handlers.append(built[name])
    filters = configurator.config.get("filters") or {}
    for name in settings.get("filters") or ():
        if name not in filters:
            raise ConfigurationError("log_config: logger %r uses the filter %r, which is not "
                                     "configured" % (logger.name, name))
        logger.addFilter(filters[name])
        added_filters.append(filters[name])
