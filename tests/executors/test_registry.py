"""The executor registry: names, lazy dotted paths, missing optional dependencies."""

from __future__ import annotations

import pytest

from distenv.errors import ConfigurationError, MissingDependencyError
from distenv.executors import (DistenvExecutor, available_executors, create_executor,
                               get_executor_class, register_executor, unregister_executor)

pytestmark = pytest.mark.timeout(60)


def test_local_backends_are_registered():
    assert {"serial", "pool", "process"} <= set(available_executors())
    for name in ("serial", "pool", "process"):
        cls = get_executor_class(name)
        assert issubclass(cls, DistenvExecutor) and cls.name == name


def test_supported_modes():
    assert get_executor_class("serial").supported_modes == ("NONE",)
    for name in ("pool", "process"):
        assert set(get_executor_class(name).supported_modes) == {
            "NONE", "LOCK", "QUEUE", "PIPE", "LOCAL"}


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ConfigurationError) as caught:
        get_executor_class("threads")
    message = str(caught.value)
    assert "'threads'" in message
    for name in available_executors():
        assert name in message


@pytest.fixture
def registered():
    names = []

    def register(name, *args, **kwargs):
        register_executor(name, *args, **kwargs)
        names.append(name)

    yield register
    for name in names:
        unregister_executor(name)


def test_missing_optional_dependency_says_what_to_install(registered):
    registered("fancy", "distenv.executors.fancy:FancyExecutor",
               requires=("surely_not_installed_package",), extra="fancy")
    with pytest.raises(MissingDependencyError, match=r"pip install 'distenv\[fancy\]'"):
        get_executor_class("fancy")
    with pytest.raises(ImportError):  # MissingDependencyError is an ImportError
        get_executor_class("fancy")


def test_dependency_missing_inside_the_backend_module(registered, tmp_path, monkeypatch):
    (tmp_path / "backend_needing_x.py").write_text("import surely_not_installed_x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registered("needs-x", "backend_needing_x:Executor")
    with pytest.raises(MissingDependencyError, match="pip install surely_not_installed_x"):
        get_executor_class("needs-x")


def test_lazy_path_is_imported_once(registered):
    registered("serial-again", "distenv.executors.serial:SerialExecutor")
    cls = get_executor_class("serial-again")
    assert cls is get_executor_class("serial")
    assert get_executor_class("serial-again") is cls
    executor = create_executor("serial-again", timeout=5)
    assert executor.timeout == 5.0


def test_names_are_not_replaced_silently(registered):
    with pytest.raises(ValueError, match="already registered"):
        register_executor("pool", "x:y")
