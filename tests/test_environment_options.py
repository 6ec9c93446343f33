"""Environment keywords: translation into specs, every bad input, aliases, not-yet-built options."""

from __future__ import annotations

import logging
import os

import pytest

from distenv import HDF5StorageService, Trajectory
from distenv.environment import KEYWORDS, Environment, LazyStorageService, translate
from distenv.environment.aliases import KEYWORD_ALIASES, METHOD_ALIASES
from distenv.environment.keywords import BY_NAME
from distenv.errors import (CompressionUnavailableError, ConfigurationError,
                            UnknownKeywordError)


def nothing_written():
    return not os.path.exists("hdf5") and not any(name.endswith(".hdf5")
                                                  for name in os.listdir("."))


# -- translation into typed specs ------------------------------------------------------------
def test_defaults_translate_into_frozen_specs():
    options = translate({})
    assert options.executor.backend == "serial"
    assert options.storage_mode.wrap_mode == "LOCK"
    assert options.storage_mode.queue_maxsize == -1
    assert options.run.automatic_storing and options.run.clean_up_runs
    assert options.progress.percent_step == 5 and options.progress.logger_name == "distenv"
    assert options.logging.log_config == "DEFAULT"
    assert options.resume.delete_resume is True
    assert isinstance(options.storage.service, HDF5StorageService)
    with pytest.raises(AttributeError):
        options.executor.ncores = 4  # frozen


def test_values_are_normalised_once():
    options = translate({"cpu_cap": 100, "wrap_mode": "lock", "report_progress": "print"})
    assert options.executor.cpu_cap == 100.0 and isinstance(options.executor.cpu_cap, float)
    assert options.storage_mode.wrap_mode == "LOCK"
    assert options.progress.prints
    assert BY_NAME["logger_names"].check("logger_names", "mylogger") == ("mylogger",)
    assert BY_NAME["log_levels"].check("log_levels", ["info", 10]) == (logging.INFO, 10)
    assert BY_NAME["port"].check("port", [7000, 7100]) == (7000, 7100)


def test_memory_cap_pair_is_split_into_cap_and_megabytes():
    values = translate({"memory_cap": 100}).executor
    assert (values.memory_cap, values.memory_per_process) == (100.0, None)


def test_every_keyword_of_both_seed_versions_is_accepted_at_its_default():
    everything = {keyword.name: keyword.default for keyword in KEYWORDS}
    everything["trajectory"] = "all_defaults"
    env = Environment(**everything)
    assert env.trajectory.v_name == "all_defaults"


def test_seed_storage_keywords_go_to_the_service():
    env = Environment("stored", filename="out/", file_title="title", overwrite_file=True,
                      encoding="utf8", complevel=4, complib="zlib", shuffle=False,
                      fletcher32=True, pandas_format="t", purge_duplicate_comments=False,
                      summary_tables=False, small_overview_tables=False,
                      large_overview_tables=True, results_per_run=10,
                      derived_parameters_per_run=5, display_time=50)
    service = env.trajectory.v_storage_service
    assert service.filters.complevel == 4 and service.filters.fletcher32
    assert service.pandas_format == "table" and service.large_overview_tables
    assert str(service.filename_for("stored")) == os.path.join("out", "stored.hdf5")
    assert service.overwrite_file and service.results_per_run == 10


def test_storage_service_as_pypet_dotted_string_and_class():
    assert isinstance(translate({"storage_service": "pypet.HDF5StorageService"}).storage.service,
                      HDF5StorageService)
    assert isinstance(translate({"storage_service": HDF5StorageService,
                                 "complevel": 1}).storage.service, HDF5StorageService)
    service = HDF5StorageService(filename="given.hdf5")
    assert translate({"storage_service": service}).storage.service is service


@pytest.mark.parametrize("spelling", ["v_auto_load", "auto_load"])
def test_trajectory_properties_with_or_without_prefix(spelling):
    env = Environment("props", **{spelling: True}, v_fast_access=False, with_links=False,
                      v_lazy_adding=True, max_depth=3)
    traj = env.trajectory
    assert traj.v_auto_load is True and traj.v_fast_access is False
    assert traj.v_with_links is False and traj.v_lazy_adding is True and traj.v_max_depth == 3


# -- aliases -----------------------------------------------------------------------------------
@pytest.mark.parametrize("old,current", sorted(KEYWORD_ALIASES.items()))
def test_old_keyword_is_an_alias(old, current):
    default = next(k.default for k in KEYWORDS if k.name == current)
    assert translate({old: default}).values[current] == translate({}).values[current]


def test_old_keyword_value_reaches_the_current_one():
    assert translate({"freeze_pool_input": False}).executor.freeze_input is False
    assert translate({"continuable": True}).resume.resumable is True


def test_old_and_new_keyword_together_is_an_error():
    with pytest.raises(ConfigurationError, match="'resumable' is given twice.*'continuable'"):
        Environment(continuable=False, resumable=False)


@pytest.mark.parametrize("old,current", sorted(METHOD_ALIASES.items()))
def test_old_method_and_property_names_are_the_same_objects(old, current):
    assert Environment.__dict__[old] is Environment.__dict__[current]


# -- unknown keywords --------------------------------------------------------------------------
def test_unknown_keyword_is_named_with_close_matches():
    with pytest.raises(UnknownKeywordError, match=r"'ncore' \(did you mean 'ncores'\?\)"):
        Environment(ncore=2)
    assert nothing_written()


def test_seed_typo_logger_nmes_suggests_logger_names():
    with pytest.raises(UnknownKeywordError, match="did you mean 'logger_names'"):
        Environment(logger_nmes=("pypet",))


def test_unknown_keyword_is_also_a_type_error():
    with pytest.raises(TypeError, match="'no_such_option'"):
        Environment(no_such_option=1)


def test_several_unknown_keywords_are_all_listed():
    with pytest.raises(UnknownKeywordError, match="'first_bad'.*'second_bad'"):
        Environment(first_bad=1, second_bad=2)


# -- wrong type or range: each names keyword, value and what is allowed --------------------------
BAD_VALUES = [
    ({"wrap_mode": "BOGUS"}, "wrap_mode='BOGUS'.*'NONE', 'LOCK', 'QUEUE', 'PIPE', 'LOCAL', "
                             "'NETLOCK', 'NETQUEUE'"),
    ({"cpu_cap": 0}, r"cpu_cap=0 is invalid: must be in \(0, 100\]"),
    ({"cpu_cap": 100.5}, r"cpu_cap=100.5 is invalid: must be in \(0, 100\]"),
    ({"swap_cap": -3}, r"swap_cap=-3 is invalid: must be in \(0, 100\]"),
    ({"memory_cap": "half"}, r"memory_cap='half'.*\(0, 100\]"),
    ({"memory_cap": (90, 0)}, r"memory_cap\[1\].*=0 is invalid: must be a number > 0"),
    ({"memory_cap": (90, 1, 2)}, r"memory_cap=\(90, 1, 2\).*pair"),
    ({"ncores": -1}, "ncores=-1 is invalid: must be an int >= 0"),
    ({"ncores": 2.5}, "ncores=2.5 is invalid: must be an int >= 0"),
    ({"queue_maxsize": -2}, "queue_maxsize=-2 is invalid: must be an int >= -1"),
    ({"gc_interval": 0}, "gc_interval=0 is invalid: must be an int >= 1"),
    ({"niceness": 40}, "niceness=40 is invalid: must be an int from -20 to 19"),
    ({"timeout": 0}, "timeout=0 is invalid: must be a number > 0"),
    ({"timeout": "soon"}, "timeout='soon' is invalid: must be a number > 0"),
    ({"port": 70000}, "port=70000 is invalid"),
    ({"port": (9000, 8000)}, r"port=\(9000, 8000\) is invalid: the range \(low, high\)"),
    ({"port": "localhost"}, "port='localhost' is invalid.*tcp://"),
    ({"multiproc": "yes"}, "multiproc='yes' is invalid: must be True or False"),
    ({"use_pool": 2}, "use_pool=2 is invalid: must be True or False"),
    ({"automatic_storing": None}, "automatic_storing=None is invalid: must be True or False"),
    ({"add_time": "no"}, "add_time='no' is invalid"),
    ({"comment": 42}, "comment=42 is invalid: must be a string"),
    ({"trajectory": 42}, "trajectory=42 is invalid: must be a trajectory name"),
    ({"trajectory": "bad name"}, "trajectory name 'bad name' is invalid"),
    ({"dynamic_imports": [42]}, r"dynamic_imports=\[42\] is invalid"),
    ({"dynamic_imports": "no.such.Module"}, "cannot import dynamic import 'no.such.Module'"),
    ({"wildcard_functions": {("$", "crun"): 3}}, "the function for .* is not callable"),
    ({"wildcard_functions": [1]}, "wildcard_functions=.* must be a dict"),
    ({"report_progress": "yes"}, "report_progress='yes' is invalid"),
    ({"report_progress": (0, "distenv", 20)}, "percent step 0 must be a number in"),
    ({"report_progress": (10, "", 20)}, "logger name '' must be a non-empty string"),
    ({"report_progress": (10, "distenv", "LOUD")}, "must be a logging level"),
    ({"log_config": "missing.ini"}, "log_config='missing.ini' is invalid.*existing .ini"),
    ({"log_levels": "LOUD"}, "log_levels='LOUD' is invalid: must be a logging level"),
    ({"logger_names": [1]}, "logger_names=.*list/tuple of strings"),
    ({"log_stdout": ("a", "b", "c")}, "log_stdout=.*pair"),
    ({"config": "missing.ini"}, "config='missing.ini' is invalid: no such file"),
    ({"git_repository": "no_such_folder"}, "git_repository='no_such_folder'.*no such folder"),
    ({"sumatra_project": 3}, "sumatra_project=3 is invalid: must be a path"),
    ({"resume_folder": 5}, "resume_folder=5 is invalid: must be a path"),
    ({"git_message": None}, "git_message=None is invalid: must be a string"),
    ({"storage_service": 42}, "storage_service=42 is invalid"),
    ({"storage_service": "no_such_module.Service"}, "storage_service=.*cannot import"),
    ({"executor": 3}, "executor=3 is invalid"),
    ({"max_depth": 0}, "max_depth=0 is invalid: must be an int >= 1"),
    ({"v_auto_load": "on"}, "v_auto_load='on' is invalid: must be True or False"),
    ({"overwrite_file": "yes"}, "overwrite_file='yes' is invalid: must be True or False"),
    ({"pandas_format": "csv"}, "pandas_format 'csv' is invalid"),
    ({"encoding": "klingon"}, "encoding 'klingon' is unknown"),
    ({"results_per_run": -1}, "results_per_run must be an int >= 0, not -1"),
    ({"filename": 3}, "filename must be a path, not 3"),
]


@pytest.mark.parametrize("keywords,message", BAD_VALUES,
                         ids=[next(iter(kw)) + "=" + repr(next(iter(kw.values())))
                              for kw, _ in BAD_VALUES])
def test_bad_value_is_named_with_what_is_allowed(keywords, message):
    with pytest.raises(ConfigurationError, match=message):
        Environment(**keywords)
    assert nothing_written()


def test_complevel_and_complib_errors_come_from_the_storage_before_anything_is_written():
    with pytest.raises(ConfigurationError, match="complevel .* not 12"):
        Environment(complevel=12)
    with pytest.raises(CompressionUnavailableError, match="complib 'nope' is unknown"):
        Environment(complib="nope")
    assert nothing_written()


# -- combinations ------------------------------------------------------------------------------
COMBINATIONS = [
    ({"use_pool": True, "use_scoop": True}, "use_pool=True and use_scoop=True: choose one"),
    ({"use_scoop": True}, "use_scoop=True works with wrap_mode 'LOCAL', 'NETLOCK', 'NETQUEUE', "
                          "not 'LOCK'"),
    ({"freeze_input": True}, "freeze_input=True needs use_pool=True or use_scoop=True"),
    ({"freeze_pool_input": True}, "freeze_input=True needs use_pool=True"),
    ({"use_pool": True, "cpu_cap": 50}, "cpu_cap=50.0: caps work only with one process per run"),
    ({"use_pool": True, "memory_cap": (80, 100)}, "memory_cap=80.0: caps work only"),
    ({"port": 7777}, "port=7777 is used only by wrap_mode 'NETLOCK' or 'NETQUEUE', not 'LOCK'"),
    ({"logger_names": ("a", "b", "c"), "log_levels": (10, 20)},
     "log_levels has 2 levels for 3 logger_names"),
    ({"resumable": True, "automatic_storing": False},
     "resumable=True needs automatic_storing=True"),
]


@pytest.mark.parametrize("keywords,message", COMBINATIONS)
def test_contradicting_options_fail_before_anything_is_written(keywords, message):
    with pytest.raises(ConfigurationError, match="(?s)do not go together.*" + message):
        Environment(**keywords)
    assert nothing_written()


def test_all_contradictions_are_reported_at_once():
    with pytest.raises(ConfigurationError) as info:
        Environment(use_pool=True, use_scoop=True, port=7777)
    assert "choose one" in str(info.value) and "port=7777" in str(info.value)


def test_new_trajectory_keywords_with_an_existing_trajectory_are_an_error():
    traj = Trajectory("existing")
    for keywords in ({"comment": "lost"}, {"add_time": True},
                     {"wildcard_functions": {("$", "crun"): lambda i: "r%d" % i}}):
        with pytest.raises(ConfigurationError, match="applies to a new trajectory only.*"
                                                     "'existing'"):
            Environment(traj, **keywords)


def test_storage_keywords_with_a_service_object_are_an_error():
    with pytest.raises(ConfigurationError, match="storage keywords complevel were given "
                                                 "together with the service object"):
        Environment(storage_service=HDF5StorageService(), complevel=3)


def test_storage_keywords_for_a_trajectory_that_has_a_service_are_an_error():
    traj = Trajectory("has_service", filename="a.hdf5")
    with pytest.raises(ConfigurationError, match="'has_service' already has a storage service"
                                                 ".*filename='b.hdf5'"):
        Environment(traj, filename="b.hdf5")


# -- keywords whose machinery later issues build ---------------------------------------------------
LATER = [
    ("wrap_mode", "NETQUEUE", "clusters"),
]


def test_every_keyword_a_later_issue_builds_is_covered_here():
    later = {keyword.name for keyword in KEYWORDS if keyword.issue is not None}
    assert later - {name for name, _, _ in LATER} == {"use_scoop", "executor", "port"}


@pytest.mark.parametrize("name,value,issue", LATER)
def test_valid_value_of_a_later_issue_raises_not_implemented_naming_it(name, value, issue):
    needs = "issue %d" % issue if isinstance(issue, int) else "the cluster backends"
    with pytest.raises(NotImplementedError, match=r"%s=.*needs %s" % (name, needs)):
        Environment(**{name: value})
    assert nothing_written()


def test_later_combinations_and_config_file_raise_not_implemented(tmp_path):
    with pytest.raises(NotImplementedError, match="(?s)use_scoop=True.*cluster backends"):
        Environment(use_scoop=True, wrap_mode="LOCAL")
    Environment(multiproc=True, use_pool=True, freeze_input=True)  # works since issue 4
    with pytest.raises(NotImplementedError, match="port=7777"):
        Environment(wrap_mode="NETLOCK", port=7777)


def test_log_config_none_already_works():
    assert translate({"log_config": None}).logging.log_config is None


def test_validation_comes_before_not_implemented():
    with pytest.raises(ConfigurationError, match="ncores=-1"):
        Environment(multiproc=True, ncores=-1)


def test_not_implemented_lists_every_offending_keyword():
    with pytest.raises(NotImplementedError) as info:
        Environment(wrap_mode="NETQUEUE", multiproc=True, use_scoop=True)
    text = str(info.value)
    assert "wrap_mode='NETQUEUE'" in text and "use_scoop=True" in text


def test_use_hdf5_false_and_lazy_storage_write_nothing():
    options = translate({"use_hdf5": False, "filename": "never.hdf5"})
    assert isinstance(options.storage.service, LazyStorageService)
    assert options.storage.reason == "use_hdf5=False"


def test_environment_is_importable_from_the_package_like_pypet():
    import distenv
    assert distenv.Environment is Environment and "Environment" in distenv.__all__
