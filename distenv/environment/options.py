"""Translate ``Environment(...)`` keywords, once, into typed frozen specs (DESIGN §3).

The order of checks is fixed so that the most specific complaint comes first and nothing is
written before all of them pass:

1. old keyword names become current ones (:mod:`~distenv.environment.aliases`);
2. every keyword is sorted into Environment keyword, trajectory property or storage keyword;
   anything else raises :class:`~distenv.errors.UnknownKeywordError` with close matches;
3. every value is validated and normalised (:mod:`~distenv.environment.keywords`);
4. combinations are checked (e.g. SCOOP with a wrap mode it cannot use), and the storage service
   is built from the storage keywords;
5. a value whose machinery a later issue builds raises :class:`NotImplementedError`.
"""

from __future__ import annotations

import difflib
import sys
from typing import Any, Mapping

from distenv import constants
from distenv.environment import checks
from distenv.environment.aliases import (KEYWORD_ALIASES, resolve_keyword_aliases,
                                         resolve_property_names)
from distenv.environment.config_file import merge_config_file
from distenv.environment.keywords import BY_NAME, ISSUE_TITLES, KEYWORDS
from distenv.environment.services import build_storage, constructor_keywords, service_class
from distenv.environment.specs import (EnvironmentOptions, ExecutorSpec, LoggingSpec,
                                       ProgressSpec, ProvenanceSpec, ResumeSpec, RunSettings,
                                       StorageModeSpec, TrajectorySpec)
from distenv.errors import ConfigurationError, UnknownKeywordError
from distenv.trajectory import Trajectory

#: Wrap modes that work when runs are spread over hosts (SCOOP): data must travel by network
#: or come back to the main process.
SCOOP_WRAP_MODES = (constants.WRAP_MODE_LOCAL, constants.WRAP_MODE_NETLOCK,
                    constants.WRAP_MODE_NETQUEUE)
NETWORK_WRAP_MODES = (constants.WRAP_MODE_NETLOCK, constants.WRAP_MODE_NETQUEUE)
CAP_KEYWORDS = ("cpu_cap", "memory_cap", "swap_cap")
#: Keywords that only shape a *new* trajectory.
NEW_TRAJECTORY_ONLY = ("add_time", "comment", "wildcard_functions")


def translate(keywords: Mapping[str, Any]) -> EnvironmentOptions:
    """Validate ``keywords`` of ``Environment(...)`` and build the typed specs.

    Raises
    ------
    UnknownKeywordError
        A keyword nobody understands (the message suggests close matches).
    ConfigurationError
        A value of the wrong type or range, or options that do not go together.
    NotImplementedError
        A valid value whose machinery a later issue builds (the message names the keyword).
    """
    keywords, config_items = merge_config_file(keywords, BY_NAME["config"].check)
    given = resolve_keyword_aliases(keywords)
    spelled = {KEYWORD_ALIASES.get(name, name): name for name in keywords}
    storage_value = BY_NAME["storage_service"].check(
        "storage_service", given.get("storage_service", BY_NAME["storage_service"].default))
    cls = service_class(storage_value)
    storage_names, takes_any = constructor_keywords(cls or type(storage_value))
    properties = resolve_property_names(list(given), Trajectory.SETTABLE_PROPERTIES)

    environment: dict[str, Any] = {}
    storage: dict[str, Any] = {}
    property_values: dict[str, Any] = {}
    unknown = []
    for name, value in given.items():
        if name in BY_NAME:
            environment[name] = value
        elif name in properties:
            prefixed = properties[name]
            if prefixed in property_values:
                raise ConfigurationError("the trajectory property %r is given twice (as %r and "
                                         "%r); pass it once" % (prefixed, prefixed,
                                                               prefixed.removeprefix("v_")))
            property_values[prefixed] = _check_property(name, prefixed, value)
        elif name in storage_names or takes_any:
            storage[name] = value
        else:
            unknown.append(name)
    if unknown:
        raise _unknown_keywords(unknown, storage_names)

    values = {keyword.name: keyword.check(spelled.get(keyword.name, keyword.name),
                                          environment.get(keyword.name, keyword.default))
              for keyword in KEYWORDS}
    errors = combination_errors(values)
    if errors:
        raise ConfigurationError("these options do not go together:\n  - " +
                                 "\n  - ".join(errors))
    trajectory = _trajectory_spec(values, property_values)
    storage_spec = build_storage(storage_value, storage, trajectory.existing,
                                 _nothing_stored_because(values))
    not_built = not_yet_built(values, spelled)
    if not_built:
        raise NotImplementedError(not_built)
    return EnvironmentOptions(
        trajectory=trajectory,
        storage=storage_spec,
        run=RunSettings(values["automatic_storing"], values["clean_up_runs"],
                        values["do_single_runs"]),
        progress=None if values["report_progress"] is None else
        ProgressSpec(*values["report_progress"]),
        executor=_executor_spec(values),
        storage_mode=StorageModeSpec(values["wrap_mode"], values["queue_maxsize"],
                                     values["port"], values["gc_interval"]),
        resume=ResumeSpec(values["resumable"], values["resume_folder"],
                          values["delete_resume"]),
        logging=LoggingSpec(values["log_config"], values["log_folder"],
                            values["logger_names"], values["log_levels"],
                            values["log_stdout"], values["log_multiproc"], values["config"],
                            config_items),
        provenance=ProvenanceSpec(values["git_repository"], values["git_message"],
                                  values["git_fail"], values["sumatra_project"],
                                  values["sumatra_reason"], values["sumatra_label"]),
        values=values,
    )


def _check_property(name: str, prefixed: str, value: Any) -> Any:
    if prefixed == "v_max_depth":
        return checks.optional(checks.integer(1))(name, value)
    return checks.boolean(name, value)


def _unknown_keywords(unknown: list[str], storage_names: Mapping[str, Any]) -> Exception:
    candidates = (list(BY_NAME) + list(KEYWORD_ALIASES) + list(storage_names) +
                  [spelling for prefixed in Trajectory.SETTABLE_PROPERTIES
                   for spelling in (prefixed, prefixed.removeprefix("v_"))])
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
        parts.append("%r%s" % (name, " (did you mean %s?)" % " or ".join(repr(c) for c in close)
                               if close else ""))
    return UnknownKeywordError(
        "Environment() got %s %s. It takes the keywords listed in docs/environment.md: "
        "Environment keywords, storage keywords (filename, complevel, ...) and trajectory "
        "properties (auto_load, ...)"
        % ("an unknown keyword" if len(unknown) == 1 else "unknown keywords", ", ".join(parts)))


def combination_errors(values: Mapping[str, Any]) -> list[str]:
    """Every way the (individually valid) options contradict each other."""
    errors = []
    pool, scoop, mode = values["use_pool"], values["use_scoop"], values["wrap_mode"]
    if pool and scoop:
        errors.append("use_pool=True and use_scoop=True: choose one (a local pool, or SCOOP "
                      "workers)")
    if scoop and mode not in SCOOP_WRAP_MODES:
        errors.append("use_scoop=True works with wrap_mode %s, not %r"
                      % (", ".join(repr(m) for m in SCOOP_WRAP_MODES), mode))
    if values["freeze_input"] and not (pool or scoop):
        errors.append("freeze_input=True needs use_pool=True or use_scoop=True (input is "
                      "frozen into long-lived workers)")
    capped = [name for name in CAP_KEYWORDS if _cap_value(values[name]) < 100.0]
    if capped and (pool or scoop):
        errors.append("%s: caps work only with one process per run (use_pool=False, "
                      "use_scoop=False)" % ", ".join("%s=%r" % (name, _cap_value(values[name]))
                                                     for name in capped))
    if values["port"] is not None and mode not in NETWORK_WRAP_MODES:
        errors.append("port=%r is used only by wrap_mode %s, not %r"
                      % (values["port"], " or ".join(repr(m) for m in NETWORK_WRAP_MODES), mode))
    names, levels = values["logger_names"], values["log_levels"]
    if names and levels and len(levels) not in (1, len(names)):
        errors.append("log_levels has %d levels for %d logger_names: give one level, or one "
                      "per name" % (len(levels), len(names)))
    tweaks = [name for name in ("log_folder", "logger_names", "log_levels") if values[name]]
    if tweaks and values["log_config"] != BY_NAME["log_config"].default:
        errors.append("%s tune log_config='DEFAULT' only; with another log_config set files and "
                      "levels in that configuration" % ", ".join(tweaks))
    if values["resumable"] and not values["automatic_storing"]:
        errors.append("resumable=True needs automatic_storing=True (a sweep resumes from what "
                      "was stored)")
    existing = values["trajectory"]
    if isinstance(existing, Trajectory):
        for name in NEW_TRAJECTORY_ONLY:
            if values[name] != BY_NAME[name].normalised_default():
                errors.append("%s=%r applies to a new trajectory only, but trajectory= is the "
                              "existing Trajectory %r; set it on that trajectory instead"
                              % (name, values[name], existing.v_name))
    return errors


def _cap_value(value: Any) -> float:
    return value[0] if isinstance(value, tuple) else value


def not_yet_built(values: Mapping[str, Any], spelled: Mapping[str, str] | None = None) -> str:
    """The NotImplementedError message for values a later issue implements ('' if none).

    ``spelled`` maps a keyword to the (old) name the user wrote, so messages use that name.
    """
    spelled = spelled or {}
    pending = []
    for keyword in KEYWORDS:
        if keyword.issue is None:
            continue
        value = values[keyword.name]
        if value == keyword.normalised_default() or value in keyword.works_now:
            continue
        name = spelled.get(keyword.name, keyword.name)
        alias = "alias of %s; " % keyword.name if name != keyword.name else ""
        pending.append("%s=%r (%sdefault %r) needs %s"
                       % (name, value, alias, keyword.default, ISSUE_TITLES[keyword.issue]))
    if not pending:
        return ""
    return ("not implemented yet in this version of distenv:\n  - %s\nLeave %s at the default "
            "until then; distenv does not ignore options silently."
            % ("\n  - ".join(pending), "it" if len(pending) == 1 else "them"))


def _nothing_stored_because(values: Mapping[str, Any]) -> str:
    if values["lazy_debug"] and "pydevd" in sys.modules:
        return "lazy_debug=True and a debugger is attached ('pydevd' in sys.modules)"
    if not values["use_hdf5"]:
        return "use_hdf5=False"
    return ""


def _trajectory_spec(values: Mapping[str, Any], properties: Mapping[str, Any]) -> TrajectorySpec:
    trajectory = values["trajectory"]
    existing = trajectory if isinstance(trajectory, Trajectory) else None
    return TrajectorySpec(
        name=existing.v_name if existing is not None else trajectory,
        existing=existing,
        add_time=values["add_time"],
        comment=values["comment"],
        dynamic_imports=values["dynamic_imports"] or (),
        wildcard_functions=values["wildcard_functions"],
        properties=tuple(properties.items()),
    )


def _executor_spec(values: Mapping[str, Any]) -> ExecutorSpec:
    if values["executor"] is not None:
        backend = values["executor"]
    elif not values["multiproc"]:
        backend = "serial"
    elif values["use_scoop"]:
        backend = "scoop"
    else:
        backend = "pool" if values["use_pool"] else "process"
    memory_cap, memory_per_process = values["memory_cap"]
    return ExecutorSpec(backend=backend, ncores=values["ncores"],
                        freeze_input=values["freeze_input"], timeout=values["timeout"],
                        cpu_cap=values["cpu_cap"], memory_cap=memory_cap,
                        memory_per_process=memory_per_process, swap_cap=values["swap_cap"],
                        niceness=values["niceness"], graceful_exit=values["graceful_exit"],
                        immediate_postproc=values["immediate_postproc"])
