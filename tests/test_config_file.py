"""Environment(config='file.ini'): keywords, parameters, config items and logging from a file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from distenv import Environment, load_trajectory
from distenv.errors import ConfigurationError, UnknownKeywordError
from helpers.logging_ini import pypet_logging_sections

#: The seed's ``env_config_test.ini`` (pypet/logging/env_config_test.ini), adapted to distenv:
#: ``$temp`` (a folder of pypet's own tests) is ``logs/``, everything else is as in the seed.
SEED_INI = """\
######### Environment ##############
[trajectory]
trajectory='ConfigTest'
add_time=True
comment=''
auto_load=True
v_with_links=True
v_lazy_adding=True

[environment]
automatic_storing=True
log_stdout=('STDOUT', 50)
report_progress = (10, 'pypet', 50)
multiproc=True
ncores=2
use_pool=True
cpu_cap=100.0
memory_cap=100.0
swap_cap=100.0
wrap_mode='LOCK'
clean_up_runs=True
immediate_postproc=False
continuable=False
continue_folder=None
delete_continue=True
storage_service='pypet.HDF5StorageService'
do_single_runs=True
lazy_debug=False

[storage_service]
filename='test_overwrite'
file_title=None
overwrite_file=False
encoding='utf-8'
complevel=4
complib='zlib'
shuffle=False
fletcher32=True
pandas_format='t'
purge_duplicate_comments=False
summary_tables=False
small_overview_tables=False
large_overview_tables=True
results_per_run=1000
derived_parameters_per_run=1000
display_time=50


###### Config and Parameters ######
[config]
test.testconfig=True, 'This is a test config'

[parameters]
test.x=42
y=43, 'This is the second variable'


############ Logging  ###############
""" + pypet_logging_sections("logs", stream_level="ERROR", stream_args="()")


pytestmark = pytest.mark.usefixtures("logging_left_as_found")


def write(text, name="env.ini"):
    Path(name).write_text(text)
    return name


def job(traj):
    print("run %d prints" % traj.v_idx)
    return traj.y * traj["parameters.test.x"]


def test_the_seed_config_file_with_a_direct_keyword_winning():
    env = Environment(config=write(SEED_INI), multiproc=False)
    options, traj = env.options, env.trajectory
    assert traj.v_name.startswith("ConfigTest_") and traj.v_comment == ""
    assert traj.v_auto_load and traj.v_with_links and traj.v_lazy_adding
    assert options.executor.backend == "serial" and options.executor.ncores == 2  # direct wins
    assert options.run.automatic_storing and options.progress.logger_name == "pypet"
    assert options.progress.percent_step == 10 and options.progress.level == 50
    assert options.logging.log_stdout == ("STDOUT", 50)
    assert options.storage_mode.wrap_mode == "LOCK" and not options.resume.resumable
    assert dict(options.storage.keywords)["complevel"] == 4
    assert traj.f_get("parameters.test.x").f_get() == 42
    assert traj.f_get("parameters.y").f_get() == 43
    assert traj.f_get("parameters.y").v_comment == "This is the second variable"
    assert traj.f_get("config.test.testconfig").f_get() is True
    assert traj.f_get("config.test.testconfig").v_comment == "This is a test config"
    traj.f_explore({"parameters.test.x": [1, 2, 3]})
    assert [value for _, value in env.run(job)] == [43, 86, 129]
    env.disable_logging()
    # the logging sections of the file were used as log_config
    folder = Path("logs") / traj.v_name / env.name
    log = (folder / "LOG.txt").read_text()
    assert "STDOUT CRITICAL run 1 prints" in log and "pypet CRITICAL PROGRESS" in log
    assert (folder / "ERROR.txt").exists()
    # storage keywords of the file: filename='test_overwrite'
    loaded = load_trajectory(traj.v_name, filename="test_overwrite")
    assert loaded.f_get("config.test.testconfig").f_get() is True
    assert list(loaded.f_get("parameters.test.x").f_get_range()) == [1, 2, 3]


@pytest.mark.timeout(120)
def test_the_seed_config_file_as_it_is_runs_in_a_pool_of_two():
    env = Environment(config=write(SEED_INI))
    assert env.options.executor.backend == "pool" and env.options.executor.ncores == 2
    traj = env.trajectory
    traj.f_explore({"parameters.test.x": [1, 2, 3, 4]})
    assert [value for _, value in env.run(job)] == [43, 86, 129, 172]
    env.disable_logging()
    loaded = load_trajectory(traj.v_name, filename="test_overwrite")
    assert list(loaded.results_frame()["status"]) == ["completed"] * 4


def test_workers_get_the_files_multiproc_sections():
    env = Environment(config=write(SEED_INI), multiproc=False)
    spec = env.worker_logging
    env.disable_logging()
    assert spec.replaces_inherited
    assert spec.config["handlers"]["file_main"]["args"] == \
        ("logs/$traj/$env/$run_$proc_LOG.txt",)


def test_keywords_passed_directly_win_whatever_their_spelling():
    write("[trajectory]\ntrajectory='from_file'\ncomment='file comment'\nauto_load=False\n"
          "[environment]\nreport_progress=False\ncontinuable=False\nlog_config=None\n")
    env = Environment(config="env.ini", comment="direct", v_auto_load=True, resumable=False)
    assert env.trajectory.v_name == "from_file"
    assert env.trajectory.v_comment == "direct" and env.trajectory.v_auto_load is True
    assert env.options.progress is None and env.options.logging.log_config is None
    assert Environment("direct_name", config="env.ini").trajectory.v_name == "direct_name"


def test_direct_log_config_wins_over_the_files_logging_sections():
    root = logging.getLogger()
    before = list(root.handlers)
    env = Environment(config=write(SEED_INI), multiproc=False, log_config=None, log_stdout=False)
    assert root.handlers == before and not os.path.exists("logs")
    assert env.worker_logging is None


def test_a_file_without_logging_sections_keeps_the_default_logging():
    env = Environment(config=write("[environment]\nreport_progress=False\n"))
    assert env.options.logging.log_config == "DEFAULT"
    env.disable_logging()
    assert (Path("logs") / "trajectory" / env.name / "LOG.txt").exists()


def test_items_with_comments_and_tuple_values():
    write("[parameters]\nshape=(3, 4)\npair='a', 'the comment'\nnames=['x', 'y']\n"
          "Mixed.Case=1\n[environment]\nlog_config=None\n")
    traj = Environment(config="env.ini").trajectory
    assert traj.f_get("parameters.shape").f_get() == (3, 4)
    assert traj.f_get("parameters.shape").v_comment == ""
    assert traj.f_get("parameters.pair").f_get() == "a"
    assert traj.f_get("parameters.pair").v_comment == "the comment"
    assert list(traj.f_get("parameters.names").f_get()) == ["x", "y"]
    assert traj.f_get("parameters.Mixed.Case").f_get() == 1


@pytest.mark.parametrize("text,message", [
    ("[environment]\nreport_progress=False\nncores=two\n",
     r"env\.ini, section \[environment\], key 'ncores' \(line 3\): 'two' is not a Python "
     r"literal"),
    ("[trajectory]\n\ncomment=unquoted text\n",
     r"section \[trajectory\], key 'comment' \(line 3\)"),
    ("[parameters]\nx=[1, 2\n", r"section \[parameters\], key 'x' \(line 2\)"),
    ("[environment]\nncores=2\n[storage_service]\nncores=3\n",
     r"the keyword 'ncores' is in \[environment\] and in \[storage_service\]"),
    ("no section header\n", r"env\.ini is not a valid \.ini file"),
])
def test_bad_values_name_the_file_section_key_and_line(text, message):
    write(text)
    with pytest.raises(ConfigurationError, match=message):
        Environment(config="env.ini")
    assert not os.path.exists("logs") and not os.path.exists("hdf5")


def test_values_are_never_executed():
    write("[environment]\nncores=__import__('os').mkdir('pwned')\n")
    with pytest.raises(ConfigurationError, match="not a Python literal"):
        Environment(config="env.ini")
    assert not os.path.exists("pwned")


def test_values_are_validated_like_direct_keywords():
    write("[environment]\nncores=-1\n")
    with pytest.raises(ConfigurationError, match="ncores=-1 is invalid"):
        Environment(config="env.ini")
    write("[environment]\nncoers=2\n")
    with pytest.raises(UnknownKeywordError, match="'ncoers' \\(did you mean 'ncores'"):
        Environment(config="env.ini")


def test_an_item_that_cannot_be_added_names_the_key():
    write("[parameters]\nx=1\nx.y=2\n[environment]\nlog_config=None\n")
    with pytest.raises(ConfigurationError, match=r"section \[parameters\], key 'x.y' \(line 3\)"
                                                 r": cannot add it to trajectory"):
        Environment(config="env.ini")


def test_missing_config_file():
    with pytest.raises(ConfigurationError, match="config='nope.ini' is invalid: no such file"):
        Environment(config="nope.ini")
