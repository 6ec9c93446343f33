"""Logging configurations as plain data: the default one, ``.ini`` files, ``multiproc_`` parts.

Every form of ``log_config`` becomes one dictionary in the format of
:func:`logging.config.dictConfig` (plus pypet's ``multiproc_``-prefixed keys for worker
processes), so the rest of distenv applies and undoes a single format
(:mod:`~distenv.environment.logging_apply`) and can send it to worker processes (it is
picklable: classes are dotted strings, streams are :class:`StreamRef` markers).

* ``'DEFAULT'`` -- :func:`default_config`: ``<log_folder>/$traj/$env/LOG.txt`` and ``ERROR.txt``
  plus the console in the main process, ``$proc_LOG.txt``/``$proc_ERROR.txt`` in workers.
* an ``.ini`` path -- :func:`read_logging_ini`: the sections of :func:`logging.config.fileConfig`
  (``[loggers]``, ``[logger_root]``, ``[handlers]``, ``[handler_x]``, ``[formatters]``, ...)
  and the same with ``multiproc_`` in front for workers. Handler ``args``/``kwargs`` are read as
  Python literals (plus the names ``sys.stdout``/``sys.stderr``); nothing is executed.
* a dict -- used as given; its ``multiproc_*`` keys form the workers' configuration.
"""

from __future__ import annotations

import ast
import configparser
import importlib
import logging
import logging.handlers
import os
from dataclasses import dataclass
from typing import Any, Sequence

from distenv.errors import ConfigurationError

MULTIPROC_PREFIX = "multiproc_"
FILE_FORMAT = "%(asctime)s %(name)s %(levelname)-8s %(message)s"
STREAM_FORMAT = "%(processName)-10s %(name)s %(levelname)-8s %(message)s"
#: Keys of a dict configuration that have a ``multiproc_`` twin.
SECTIONS = ("formatters", "filters", "handlers", "loggers", "root")


@dataclass(frozen=True)
class StreamRef:
    """``sys.stdout`` or ``sys.stderr`` in an ``.ini`` handler's ``args``, resolved when the
    handler is made (in the process that makes it)."""

    name: str

    def resolve(self) -> Any:
        from distenv.environment.logging_streams import ConsoleStream
        return ConsoleStream(self.name)


# -- the default configuration -------------------------------------------------------------------
def default_config(log_folder: str | None = None, logger_names: Sequence[str] = (),
                   log_levels: Sequence[int] = (), log_multiproc: bool = True) -> dict:
    """pypet's default logging as a dict configuration.

    Parameters
    ----------
    log_folder:
        Folder of the log files (default ``'logs'``); files go to
        ``<log_folder>/<trajectory>/<environment>/``.
    logger_names, log_levels:
        Loggers that get the handlers and their levels (one level for all, or one per name);
        default: the root logger at ``INFO``.
    log_multiproc:
        Add the workers' part (``multiproc_*``): per-process files ``<process>_LOG.txt`` and
        ``<process>_ERROR.txt``, created when a worker first logs something.
    """
    folder = os.path.join(log_folder or "logs", "$traj", "$env")
    names = tuple(logger_names) or ("",)
    levels = tuple(log_levels) or (logging.INFO,)
    if len(levels) == 1:
        levels = levels * len(names)

    def file_handler(name: str, level: int | None = None, delay: bool = False) -> dict:
        handler = {"class": "logging.FileHandler", "formatter": "file",
                   "filename": os.path.join(folder, name)}
        if level is not None:
            handler["level"] = level
        if delay:
            handler["delay"] = True
        return handler

    def loggers(handlers: dict) -> dict:
        return {name: {"level": level, "handlers": sorted(handlers)}
                for name, level in zip(names, levels)}

    handlers = {"stream": {"class": "logging.StreamHandler", "formatter": "stream",
                           "stream": "ext://distenv.environment.logging_streams.CONSOLE"},
                "file_main": file_handler("LOG.txt"),
                "file_error": file_handler("ERROR.txt", logging.ERROR)}
    config: dict[str, Any] = {
        "version": 1,
        "formatters": {"file": {"format": FILE_FORMAT}, "stream": {"format": STREAM_FORMAT}},
        "handlers": handlers, "loggers": loggers(handlers)}
    if log_multiproc:
        worker_handlers = {"file_main": file_handler("$proc_LOG.txt", delay=True),
                           "file_error": file_handler("$proc_ERROR.txt", logging.ERROR, True)}
        config.update({MULTIPROC_PREFIX + "formatters": {"file": {"format": FILE_FORMAT}},
                       MULTIPROC_PREFIX + "handlers": worker_handlers,
                       MULTIPROC_PREFIX + "loggers": loggers(worker_handlers)})
    return _root_apart(config)


def _root_apart(config: dict) -> dict:
    """Move the root logger ('') of ``loggers`` to ``root``, as dictConfig wants it."""
    for prefix in ("", MULTIPROC_PREFIX):
        loggers = config.get(prefix + "loggers", {})
        if "" in loggers:
            config[prefix + "root"] = loggers.pop("")
    return config


# -- dictionaries ----------------------------------------------------------------------------------
def split_multiproc(config: dict) -> tuple[dict, dict | None]:
    """``(main process part, worker part or None)`` of a dict with ``multiproc_*`` keys."""
    main = {key: value for key, value in config.items() if not key.startswith(MULTIPROC_PREFIX)}
    if not any(key.startswith(MULTIPROC_PREFIX) for key in config):
        return main, None
    worker = {key[len(MULTIPROC_PREFIX):]: value for key, value in config.items()
              if key.startswith(MULTIPROC_PREFIX)}
    worker.setdefault("version", config.get("version", 1))
    return main, worker


def has_logging_sections(parser: configparser.RawConfigParser) -> bool:
    return parser.has_section("loggers") or parser.has_section(MULTIPROC_PREFIX + "loggers")


# -- .ini files ------------------------------------------------------------------------------------
def new_parser() -> configparser.RawConfigParser:
    """A parser that keeps ``%(asctime)s`` as written and the case of keys."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


def read_ini(path: str) -> configparser.RawConfigParser:
    parser = new_parser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, source=path)
    except configparser.Error as exc:
        raise ConfigurationError("%s is not a valid .ini file: %s" % (path, exc)) from None
    return parser


def read_logging_ini(path: str, parser: configparser.RawConfigParser | None = None) -> dict:
    """The logging sections of an ``.ini`` file as one dict configuration.

    Raises
    ------
    ConfigurationError
        No ``[loggers]`` section (nor ``[multiproc_loggers]``), a section that is referenced but
        missing, or a value that is not a literal; the message names file, section and key.
    """
    parser = parser if parser is not None else read_ini(path)
    if not has_logging_sections(parser):
        raise ConfigurationError("%s has no logging sections ([loggers], [handlers], ... as "
                                 "for logging.config.fileConfig)" % path)
    config: dict[str, Any] = {"version": 1}
    for prefix in ("", MULTIPROC_PREFIX):
        if parser.has_section(prefix + "loggers"):
            part = _ini_part(IniReader(path, parser), prefix)
            config.update({prefix + key: value for key, value in part.items()})
    return config


class IniReader:
    """Reads sections of one ``.ini`` file; errors name the file, section, key and line."""

    def __init__(self, path: str, parser: configparser.RawConfigParser):
        self.path = path
        self.parser = parser

    def keys(self, section: str) -> list[str]:
        if not self.parser.has_section(section):
            return []
        text = self.parser.get(section, "keys", fallback="")
        return [key.strip() for key in text.split(",") if key.strip()]

    def section(self, name: str, referenced_by: str) -> configparser.SectionProxy:
        if not self.parser.has_section(name):
            raise ConfigurationError("%s: section [%s] is missing (it is listed in [%s])"
                                     % (self.path, name, referenced_by))
        return self.parser[name]

    def literal(self, section: str, key: str, default: str) -> Any:
        text = self.parser.get(section, key, fallback=default)
        try:
            return safe_literal(text)
        except ValueError as exc:
            raise ConfigurationError(
                "%s, section [%s], key %r%s: %s" % (self.path, section, key,
                                                    line_suffix(self.path, section, key), exc)
            ) from None


def _ini_part(reader: IniReader, prefix: str) -> dict:
    """One configuration (the plain or the ``multiproc_`` sections) as a dict."""
    formatters = {}
    for name in reader.keys(prefix + "formatters"):
        section = reader.section("%sformatter_%s" % (prefix, name), prefix + "formatters")
        formatter = {"format": section.get("format"), "datefmt": section.get("datefmt"),
                     "style": section.get("style", "%")}
        if section.get("class"):
            formatter["class"] = section["class"]
        formatters[name] = formatter
    handlers = {}
    for name in reader.keys(prefix + "handlers"):
        section_name = "%shandler_%s" % (prefix, name)
        section = reader.section(section_name, prefix + "handlers")
        if "class" not in section:
            raise ConfigurationError("%s, section [%s]: the key 'class' is missing"
                                     % (reader.path, section_name))
        if section.get("target"):
            raise ConfigurationError("%s, section [%s]: 'target' (MemoryHandler) is not "
                                     "supported in .ini files; use a dict log_config"
                                     % (reader.path, section_name))
        handler: dict[str, Any] = {
            "()": "distenv.environment.logging_config.ini_handler",
            "handler_class": section["class"].strip(),
            "args": reader.literal(section_name, "args", "()"),
            "kwargs": reader.literal(section_name, "kwargs", "{}")}
        if section.get("formatter", "").strip():
            handler["formatter"] = section["formatter"].strip()
        if section.get("level", "").strip():
            handler["level"] = section["level"].strip().upper()
        handlers[name] = handler
    loggers: dict[str, Any] = {}
    part: dict[str, Any] = {"formatters": formatters, "handlers": handlers, "loggers": loggers}
    for name in reader.keys(prefix + "loggers"):
        section_name = "%slogger_%s" % (prefix, name)
        section = reader.section(section_name, prefix + "loggers")
        logger: dict[str, Any] = {"handlers": [item.strip() for item in
                                               section.get("handlers", "").split(",")
                                               if item.strip()]}
        if section.get("level", "").strip():
            logger["level"] = section["level"].strip().upper()
        if name == "root":
            part["root"] = logger
            continue
        if "qualname" not in section:
            raise ConfigurationError("%s, section [%s]: the key 'qualname' is missing"
                                     % (reader.path, section_name))
        logger["propagate"] = bool(int(section.get("propagate", "1")))
        loggers[section["qualname"].strip()] = logger
    return part


def ini_handler(handler_class: str, args: Any = (), kwargs: Any = None) -> logging.Handler:
    """Make a handler of an ``.ini`` section: ``handler_class(*args, **kwargs)``.

    The class is looked up as :func:`logging.config.fileConfig` does (``FileHandler``,
    ``handlers.RotatingFileHandler``, or a dotted path); the folder of a file handler's file is
    created.
    """
    cls = resolve_handler_class(handler_class)
    args = tuple(_resolve_refs(item) for item in
                 (args if isinstance(args, (tuple, list)) else (args,)))
    kwargs = {key: _resolve_refs(value) for key, value in (kwargs or {}).items()}
    if issubclass(cls, logging.FileHandler):
        filename = args[0] if args else kwargs.get("filename")
        if isinstance(filename, (str, os.PathLike)):
            make_parent_folder(filename)
    elif issubclass(cls, logging.StreamHandler) and not args and "stream" not in kwargs:
        args = (StreamRef("stderr").resolve(),)  # the console, as StreamHandler() would
    return cls(*args, **kwargs)


def resolve_handler_class(name: str) -> type:
    target: Any = logging
    try:
        for part in name.split("."):
            target = getattr(target, part)
    except AttributeError:
        module_name, _, attribute = name.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attribute) if module_name \
                else None
        except (ImportError, AttributeError, ValueError):
            target = None
    if not (isinstance(target, type) and issubclass(target, logging.Handler)):
        raise ConfigurationError("handler class %r is neither a class of logging "
                                 "(FileHandler, handlers.RotatingFileHandler, ...) nor an "
                                 "importable dotted path of a logging.Handler" % name)
    return target


def make_parent_folder(filename: Any) -> None:
    folder = os.path.dirname(os.fspath(filename))
    if folder:
        os.makedirs(folder, exist_ok=True)


def _resolve_refs(value: Any) -> Any:
    return value.resolve() if isinstance(value, StreamRef) else value


# -- safe literals ---------------------------------------------------------------------------------
_NAMES = {"sys.stdout": StreamRef("stdout"), "sys.stderr": StreamRef("stderr")}


def safe_literal(text: str) -> Any:
    """A Python literal (``ast.literal_eval``), where ``sys.stdout``/``sys.stderr`` may appear
    too (as :class:`StreamRef`). Nothing is executed.

    Raises
    ------
    ValueError
        ``text`` is anything else; the message quotes it.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError("%r is not a Python literal (write strings in quotes: 'text')"
                         % text) from None

    def convert(node: ast.AST) -> Any:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = "%s.%s" % (node.value.id, node.attr)
            if dotted in _NAMES:
                return _NAMES[dotted]
        if isinstance(node, ast.Tuple):
            return tuple(convert(item) for item in node.elts)
        if isinstance(node, ast.List):
            return [convert(item) for item in node.elts]
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {convert(key): convert(value) for key, value in zip(node.keys, node.values)}
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError("%r is not a Python literal (numbers, 'strings', True/False/None, "
                             "tuples, lists, dicts; no names or calls -- write strings in "
                             "quotes)" % text) from None
    return convert(tree.body)


def line_suffix(path: str, section: str, key: str) -> str:
    """``' (line 12)'``: where ``key`` of ``[section]`` is in the file (``''`` if not found)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return ""
    current = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1].strip()
        elif current == section and stripped.split("=", 1)[0].split(":", 1)[0].strip() == key:
            return " (line %d)" % number
    return ""
