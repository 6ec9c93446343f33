"""The trajectory: the root of the tree, the explored parameter space and its runs."""

from __future__ import annotations

import datetime
import importlib
import re
import time
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from distenv.constants import BRANCHES, RUN_COMPLETED
from distenv.errors import (ExplorationError, InvalidNameError, NodeNotFoundError,
                            NotUniqueNodeError, ParameterLockedError, StorageError,
                            UnsupportedTypeError)
from distenv.trajectory.columns import RunColumn
from distenv.trajectory.exploration import check_equal_lengths
from distenv.trajectory.leaves import BUILTIN_LEAF_CLASSES, BaseLeaf, Parameter
from distenv.trajectory.naming import Wildcards
from distenv.trajectory.naturalnaming import NaturalNamingMixin
from distenv.trajectory.rundata import RunDataMixin
from distenv.trajectory.runtable import RunTable
from distenv.trajectory.tree import GroupNode

_TRAJECTORY_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")

#: Set by :mod:`distenv.storage` so a trajectory can make its default storage service
#: without the model importing the storage layer.
default_storage_factory: Callable[..., Any] | None = None


def format_time(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y_%m_%d_%Hh%Mm%Ss")


class Trajectory(RunDataMixin, NaturalNamingMixin, GroupNode):
    """The container of one experiment: parameters, their exploration, config, results.

    Parameters
    ----------
    name:
        Trajectory name (letters, digits, ``_``, ``-``).
    add_time:
        Append the creation time (``_YYYY_MM_DD_HHhMMmSSs``) to the name.
    comment:
        Free text.
    dynamic_imports:
        Custom parameter/result classes (classes or dotted import strings); identified on
        loading by their unique class name.
    wildcard_functions:
        ``{('$', 'crun'): f, ('$mycard', 'mycard'): g}``: functions from run index to name.
    storage_service:
        A storage service object; by default an HDF5 service made from ``storage_kwargs``
        (``filename``, ``complevel``, ...) when first needed.

    Example
    -------
    >>> traj = Trajectory('sweep', filename='out/sweep.hdf5')
    >>> traj.f_add_parameter('x', 1.0)
    >>> traj.f_explore(cartesian_product({'x': [1.0, 2.0]}))
    """

    def __init__(self, name: str = "my_trajectory", add_time: bool = False, comment: str = "",
                 dynamic_imports: Iterable | Any = None, wildcard_functions: dict | None = None,
                 storage_service: Any = None, **storage_kwargs: Any):
        GroupNode.__init__(self, "", comment, self)
        if not isinstance(name, str) or not _TRAJECTORY_NAME.match(name):
            raise InvalidNameError("trajectory name %r is invalid: use letters, digits, '_' and "
                                   "'-'" % (name,))
        self._timestamp = time.time()
        self._time = format_time(self._timestamp)
        self._name = "%s_%s" % (name, self._time) if add_time else name
        self._nodes: dict[str, Any] = {}
        self._by_name: dict[str, dict] = {}
        self._nn_cache: dict[str, dict] = {}
        self._add_cache: dict[tuple, str] = {}
        self._wildcards = Wildcards(wildcard_functions)
        self._default_run_names = not wildcard_functions or not any(
            "$" in ((key,) if isinstance(key, str) else tuple(key)) for key in wildcard_functions)
        self._run_names_by_name: dict[str, int] | None = None
        self._idx = -1
        self._crun_cache = (-1, self._wildcards.run_name(-1))
        self._is_run = False
        self._run_added: list = []
        self._run_keys: list = []
        self._run_add_cache: dict[tuple, tuple] = {}
        self._fast_access = True
        self._auto_load = False
        self._shortcuts = True
        self._max_depth: int | None = None
        self._iter_recursive = True
        self._with_links = True
        self._lazy_adding = False
        self._explored: dict[str, Parameter] = {}
        #: Length of each explored range when it was last stored (ranges only ever grow).
        self._stored_range_lengths: dict[str, int] = {}
        self._length = 1
        self._run_table = RunTable(1)
        self._run_columns: dict[str, RunColumn] = {}
        self._dynamic_imports: dict[str, Any] = {}
        self.f_add_to_dynamic_imports(dynamic_imports)
        self._storage_service = storage_service
        self._storage_kwargs = storage_kwargs
        if storage_service is None and storage_kwargs and default_storage_factory is not None:
            self._storage_service = default_storage_factory(**storage_kwargs)
        elif storage_kwargs and storage_service is not None:
            raise StorageError("storage keywords %s were given together with a storage_service; "
                               "configure the service instead" % sorted(storage_kwargs))
        self._environment_hash = ""
        self._environment_name = ""
        self._stored = False
        for branch in BRANCHES:
            self._ensure_group(self, branch)

    # -- properties ----------------------------------------------------------------------------
    @property
    def v_name(self) -> str:
        return self._name

    @property
    def v_time(self) -> str:
        return self._time

    @property
    def v_timestamp(self) -> float:
        return self._timestamp

    @property
    def v_idx(self) -> int:
        return self._idx

    @v_idx.setter
    def v_idx(self, index: int) -> None:
        self.f_set_crun(index)

    @property
    def v_crun(self) -> str | None:
        return self._crun_name() if self._idx >= 0 else None

    @v_crun.setter
    def v_crun(self, run: int | str | None) -> None:
        self.f_set_crun(run)

    @property
    def v_crun_(self) -> str:
        return self._crun_name()

    @property
    def v_fast_access(self) -> bool:
        return self._fast_access

    @v_fast_access.setter
    def v_fast_access(self, value: bool) -> None:
        self._fast_access = bool(value)

    @property
    def v_auto_load(self) -> bool:
        return self._auto_load

    @v_auto_load.setter
    def v_auto_load(self, value: bool) -> None:
        self._auto_load = bool(value)

    @property
    def v_shortcuts(self) -> bool:
        return self._shortcuts

    @v_shortcuts.setter
    def v_shortcuts(self, value: bool) -> None:
        self._shortcuts = bool(value)

    @property
    def v_max_depth(self) -> int | None:
        return self._max_depth

    @v_max_depth.setter
    def v_max_depth(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError("v_max_depth must be None or a positive int, not %r" % (value,))
        self._max_depth = value

    @property
    def v_iter_recursive(self) -> bool:
        return self._iter_recursive

    @v_iter_recursive.setter
    def v_iter_recursive(self, value: bool) -> None:
        self._iter_recursive = bool(value)

    @property
    def v_with_links(self) -> bool:
        return self._with_links

    @v_with_links.setter
    def v_with_links(self, value: bool) -> None:
        self._with_links = bool(value)

    @property
    def v_lazy_adding(self) -> bool:
        return self._lazy_adding

    @v_lazy_adding.setter
    def v_lazy_adding(self, value: bool) -> None:
        self._lazy_adding = bool(value)

    @property
    def v_storage_service(self) -> Any:
        return self._service()

    @v_storage_service.setter
    def v_storage_service(self, service: Any) -> None:
        self._storage_service = service

    @property
    def v_environment_hash(self) -> str:
        return self._environment_hash

    @property
    def v_environment_name(self) -> str:
        return self._environment_name

    @property
    def v_is_run(self) -> bool:
        return self._is_run

    @property
    def v_stored(self) -> bool:
        return self._stored

    #: Properties an Environment may set by keyword (``auto_load=True`` or ``v_auto_load=True``).
    SETTABLE_PROPERTIES = ("v_fast_access", "v_auto_load", "v_shortcuts", "v_max_depth",
                           "v_iter_recursive", "v_with_links", "v_lazy_adding")

    # -- adding at the root ----------------------------------------------------------------------
    def f_add_parameter(self, *args: Any, **kwargs: Any) -> Parameter:
        """Add a parameter: ``(name, value, comment='')``, ``(Class, name, value)`` or an
        instance. Dotted names create groups: ``'poker.ncards'``."""
        return self._add_leaf("parameter", self, args, kwargs)

    def f_add_derived_parameter(self, *args: Any, **kwargs: Any) -> Parameter:
        return self._add_leaf("derived_parameter", self, args, kwargs)

    def f_add_result(self, *args: Any, **kwargs: Any) -> Any:
        """Add a result: ``('z', 42)``, ``('r', a=1, b=arr, comment='...')``. During a run it
        goes below ``results.runs.<run>`` unless the name says where."""
        return self._add_leaf("result", self, args, kwargs)

    def f_add_config(self, *args: Any, **kwargs: Any) -> Parameter:
        return self._add_leaf("config", self, args, kwargs)

    def f_add_parameter_group(self, name: str, comment: str = "") -> GroupNode:
        return self._add_group(self, "parameters." + name.removeprefix("parameters."), comment)

    def f_add_derived_parameter_group(self, name: str, comment: str = "") -> GroupNode:
        return self._add_group(self, "derived_parameters." + name.removeprefix(
            "derived_parameters."), comment)

    def f_add_result_group(self, name: str, comment: str = "") -> GroupNode:
        return self._add_group(self, "results." + name.removeprefix("results."), comment)

    def f_add_config_group(self, name: str, comment: str = "") -> GroupNode:
        return self._add_group(self, "config." + name.removeprefix("config."), comment)

    def f_add_to_dynamic_imports(self, dynamic_imports: Iterable | Any) -> None:
        """Register custom leaf classes (classes or dotted strings)."""
        if dynamic_imports is None:
            return
        if isinstance(dynamic_imports, (str, type)):
            dynamic_imports = [dynamic_imports]
        for item in dynamic_imports:
            cls = _import_class(item) if isinstance(item, str) else item
            if not (isinstance(cls, type) and issubclass(cls, BaseLeaf)):
                raise UnsupportedTypeError("dynamic import %r is not a Parameter or Result "
                                           "subclass" % (item,))
            known = self._dynamic_imports.get(cls.__name__) or BUILTIN_LEAF_CLASSES.get(cls.__name__)
            if known is not None and known is not cls:
                raise InvalidNameError(
                    "two leaf classes are named %r (%s and %s); class names must be unique"
                    % (cls.__name__, _qualname(known), _qualname(cls)))
            self._dynamic_imports[cls.__name__] = cls

    def _leaf_class(self, class_name: str) -> type:
        cls = BUILTIN_LEAF_CLASSES.get(class_name) or self._dynamic_imports.get(class_name)
        if cls is None:
            raise UnsupportedTypeError(
                "the stored leaf class %r is unknown; pass it in dynamic_imports (the class or "
                "'package.module.%s')" % (class_name, class_name))
        return cls

    # -- exploration -----------------------------------------------------------------------------
    def f_explore(self, build_dict: dict) -> None:
        """Explore parameters: ``{'x': [1, 2, 3], 'y': [4, 5, 6]}`` gives three runs.

        Raises
        ------
        ExplorationError
            Unknown names, unequal lengths, values of another type than the default, or a
            trajectory that already ran.
        """
        if self._explored and self._run_table.status.any():
            raise ExplorationError("trajectory %r has runs already; use f_expand to add more"
                                   % self._name)
        ranges = self._resolve_explored(build_dict)
        length = check_equal_lengths({p._full_name: values for p, values in ranges})
        named = {parameter._full_name for parameter, _ in ranges}
        for full_name, parameter in self._explored.items():
            if full_name not in named and parameter.f_has_range() and \
                    len(parameter._explored_range) != length:
                raise ExplorationError("parameter %r is explored with %d values but the new "
                                       "ranges have %d; explore all of them together"
                                       % (full_name, len(parameter._explored_range), length))
        for parameter, values in ranges:  # validate everything before changing anything
            parameter._validated_range(values)
        for parameter, values in ranges:
            parameter._explore(values)
            self._explored[parameter._full_name] = parameter
        self._length = length
        self._run_table = RunTable(length)

    def f_expand(self, build_dict: dict, fail_safe: bool = True) -> None:
        """Append runs: every explored parameter must be in ``build_dict``; new parameters start
        with their default for the existing runs."""
        if not self._explored:
            self.f_explore(build_dict)
            return
        ranges = self._resolve_explored(build_dict)
        named = {parameter._full_name for parameter, _ in ranges}
        missing = [name for name in self._explored if name not in named]
        if missing:
            raise ExplorationError("f_expand must extend every explored parameter; missing %s"
                                   % missing)
        added = check_equal_lengths({p._full_name: values for p, values in ranges})
        old_length = self._length
        for parameter, values in ranges:  # validate everything before changing anything
            parameter._validated_range(values)
        for parameter, values in ranges:
            parameter._expand(values, old_length)
            self._explored[parameter._full_name] = parameter
        self._length = old_length + added
        self._run_table.resize(self._length)

    def _resolve_explored(self, build_dict: dict) -> list[tuple[Parameter, list]]:
        if not isinstance(build_dict, dict):
            raise ExplorationError("explore takes a dict of parameter name -> list of values, "
                                   "not %r" % type(build_dict).__name__)
        resolved = []
        unknown = []
        for name, values in build_dict.items():
            try:
                node = self._get(self, name if "." in name or name in self._by_name else name,
                                 fast_access=False)
            except (NodeNotFoundError, NotUniqueNodeError) as exc:
                unknown.append("%r (%s)" % (name, exc))
                continue
            if not isinstance(node, Parameter) or node.v_branch != "parameters":
                raise ExplorationError("%r is %s, not a parameter; only parameters can be explored"
                                       % (name, node._full_name))
            if node.v_locked:
                raise ParameterLockedError("parameter %r is locked and cannot be explored"
                                           % node._full_name)
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                raise ExplorationError("the range for %r must be a list of values, not %r"
                                       % (name, values))
            resolved.append((node, list(values)))
        if unknown:
            raise ExplorationError("cannot explore unknown parameters: %s" % "; ".join(unknown))
        return resolved

    def f_shrink(self, force: bool = False) -> None:
        """Drop the exploration (only before any run was stored, unless ``force``)."""
        if self._run_table.status.any() and not force:
            raise ExplorationError("trajectory %r has runs; f_shrink(force=True) drops them "
                                   "from memory anyway" % self._name)
        for parameter in self._explored.values():
            parameter._shrink()
        self._explored.clear()
        self._length = 1
        self._run_table = RunTable(1)

    def f_get_explored_parameters(self, fast_access: bool = False, copy: bool = True) -> dict:
        return {name: (p.f_get() if fast_access else p) for name, p in self._explored.items()}

    def _branch_leaves(self, branch: str, fast_access: bool) -> dict:
        return {leaf._full_name: self._leaf_value(leaf, fast_access)
                for leaf in self._children[branch].f_iter_leaves()}

    def f_get_parameters(self, fast_access: bool = False, copy: bool = True) -> dict:
        return self._branch_leaves("parameters", fast_access)

    def f_get_config(self, fast_access: bool = False, copy: bool = True) -> dict:
        return self._branch_leaves("config", fast_access)

    def f_get_derived_parameters(self, fast_access: bool = False, copy: bool = True) -> dict:
        return self._branch_leaves("derived_parameters", fast_access)

    def f_get_results(self, fast_access: bool = False, copy: bool = True) -> dict:
        return self._branch_leaves("results", fast_access)

    def f_lock_parameters(self) -> None:
        for leaf in self._children["parameters"].f_iter_leaves():
            leaf.f_lock()

    def f_unlock_parameters(self) -> None:
        for leaf in self._children["parameters"].f_iter_leaves():
            leaf.f_unlock()

    def f_lock_derived_parameters(self) -> None:
        for leaf in self._children["derived_parameters"].f_iter_leaves():
            leaf.f_lock()

    # -- runs -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._length

    def _crun_name(self) -> str:
        index, name = self._crun_cache
        if index != self._idx:
            name = self._wildcards.run_name(self._idx)
            self.__dict__["_crun_cache"] = (self._idx, name)  # hot: skips __setattr__
        return name

    def _run_name_map(self) -> dict[str, int]:
        if self._run_names_by_name is None or len(self._run_names_by_name) != self._length:
            self._run_names_by_name = {name: index for index, name in
                                       enumerate(self.f_get_run_names())}
        return self._run_names_by_name

    def f_get_run_names(self, sort: bool = True) -> list[str]:
        """Names of all runs in run-index order."""
        run_name = self._wildcards.run_name
        return [run_name(index) for index in range(self._length)]

    def f_idx_to_run(self, name_or_idx: int | str) -> int | str:
        """Run index for a name, run name for an index."""
        if isinstance(name_or_idx, (int, np.integer)):
            return self._wildcards.run_name(int(name_or_idx))
        return self._index_of_run(name_or_idx)

    def _index_of_run(self, run: int | str) -> int:
        if isinstance(run, (int, np.integer)):
            index = int(run)
        else:
            index = self._run_index_of_segment(run) if isinstance(run, str) else None
            if index is None and run in (self._wildcards.run_name(-1),):
                index = -1
            if index is None:
                raise NodeNotFoundError("%r is not a run of trajectory %r" % (run, self._name))
        if not -1 <= index < self._length:
            raise NodeNotFoundError("run index %d is out of range: trajectory %r has %d runs "
                                    "(0..%d)" % (index, self._name, self._length, self._length - 1))
        return index

    def f_set_crun(self, name_or_idx: int | str | None) -> None:
        """Make a run current: explored parameters give its values, ``crun``/``$`` name it."""
        self._idx = -1 if name_or_idx is None else self._index_of_run(name_or_idx)

    def f_restore_default(self) -> None:
        """Back to no current run (defaults, ``run_ALL``)."""
        attributes = self.__dict__  # hot paths store through __dict__ (no __setattr__ call)
        attributes["_idx"] = -1
        attributes["_is_run"] = False

    def f_iter_runs(self, start: int = 0, stop: int | None = None, step: int = 1,
                    yields: str = "name") -> Iterator:
        """Make each run current in turn; yields its name, index, ``self`` or a copy."""
        if yields not in ("name", "idx", "self", "copy"):
            raise ValueError("yields must be 'name', 'idx', 'self' or 'copy', not %r" % (yields,))
        try:
            for index in range(start, self._length if stop is None else stop, step):
                self.f_set_crun(index)
                if yields == "name":
                    yield self._crun_name()
                elif yields == "idx":
                    yield index
                elif yields == "self":
                    yield self
                else:
                    import copy
                    yield copy.deepcopy(self)
        finally:
            self.f_restore_default()

    def f_get_run_information(self, name_or_idx: int | str | None = None,
                              copy: bool = True) -> dict:
        """The run table row(s): ``{'completed', 'status', 'runtime', 'host', ...}``."""
        if name_or_idx is None:
            return {name: self._run_table.info(index, name)
                    for index, name in enumerate(self.f_get_run_names())}
        index = self._index_of_run(name_or_idx)
        return self._run_table.info(index, self._wildcards.run_name(index))

    def f_is_completed(self, name_or_id: int | str | None = None) -> bool:
        if name_or_id is None:
            return bool(self._run_table.completed().all())
        return bool(self._run_table.status[self._index_of_run(name_or_id)] == RUN_COMPLETED)

    def _set_run(self, index: int) -> None:
        """Enter run ``index`` (used by executors; fast: stores through ``__dict__``, not
        natural naming's ``__setattr__``)."""
        attributes = self.__dict__
        attributes["_idx"] = index
        attributes["_is_run"] = True
        attributes["_run_added"] = []
        attributes["_run_keys"] = []

    def _leave_run(self, clean_up: bool = True) -> "RunLeaves":
        """Leave the current run; returns the leaves it added (removed from memory if asked).

        The result also carries, per leaf, its per-run column key and run index
        (``run_keys``; ``None`` for a leaf outside any run) so storage need not parse names.
        """
        attributes = self.__dict__
        added = RunLeaves(attributes["_run_added"])
        added.run_keys = attributes["_run_keys"]
        attributes["_run_added"] = []
        attributes["_run_keys"] = []
        if clean_up and added:
            self._remove_run_nodes(self._crun_name())
        attributes["_is_run"] = False
        attributes["_idx"] = -1
        return added

    def _remove_run_nodes(self, run_name: str) -> None:
        """Drop every group named ``run_name`` with all below it (fast path of clean-up).

        Natural-naming caches never hold nodes below a run, so none need invalidating.
        """
        groups = self._by_name.get(run_name)
        if not groups:
            return
        nodes, by_name = self._nodes, self._by_name
        for full, group in list(groups.items()):
            location = full.rpartition(".")[0]
            (nodes[location] if location else self)._children.pop(run_name, None)
            stack = [group]
            while stack:
                node = stack.pop()
                nodes.pop(node._full_name, None)
                same = by_name.get(node._name)
                if same is not None:
                    same.pop(node._full_name, None)
                    if not same:
                        del by_name[node._name]
                if node.v_is_group:
                    stack.extend(node._children.values())

    # -- storage ---------------------------------------------------------------------------------
    def _service(self) -> Any:
        if self._storage_service is None:
            if default_storage_factory is None:
                raise StorageError("no storage service: import distenv (not only "
                                   "distenv.trajectory) or pass storage_service=")
            self._storage_service = default_storage_factory(**self._storage_kwargs)
        return self._storage_service

    def f_store(self, only_init: bool = False, store_data: int = 2,
                max_depth: int | None = None) -> None:
        """Store the trajectory (what is new since the last store) to its file.

        ``only_init=True`` stores only the skeleton (name, comment, meta data).
        """
        self._service().store_trajectory(self, only_init=only_init)

    def f_store_item(self, item: Any, *args: Any, **kwargs: Any) -> None:
        self.f_store_items([item])

    def f_store_items(self, iterator: Iterable, *args: Any, **kwargs: Any) -> None:
        nodes = [self.f_get(item, shortcuts=True) if isinstance(item, str) else item
                 for item in iterator]
        self._store_nodes(nodes, recursive=False)

    def _store_nodes(self, nodes: list, recursive: bool) -> None:
        leaves = []
        for node in nodes:
            if node.v_is_leaf:
                leaves.append(node)
            else:
                leaves.extend(node.f_iter_leaves() if recursive else
                              (child for child in node._children.values() if child.v_is_leaf))
        self._service().store_leaves(self, leaves)

    def f_load(self, name: str | None = None, index: int | None = None, as_new: bool = False,
               load_parameters: int = 2, load_derived_parameters: int = 1, load_results: int = 1,
               load_other_data: int = 1, recursive: bool = True, load_data: int | None = None,
               max_depth: int | None = None, force: bool = False, dynamic_imports: Any = None,
               with_run_information: bool = True, with_meta_data: bool = True,
               storage_service: Any = None, **kwargs: Any) -> "Trajectory":
        """Load a trajectory from storage into this object (pypet's levels: 0 nothing,
        1 skeleton, 2 data). ``load_data`` sets all levels at once."""
        if storage_service is not None:
            self._storage_service = storage_service
        elif kwargs:
            if default_storage_factory is None:
                raise StorageError("no storage service factory")
            self._storage_service = default_storage_factory(**kwargs)
        if dynamic_imports is not None:
            self.f_add_to_dynamic_imports(dynamic_imports)
        if load_data is not None:
            load_parameters = load_derived_parameters = load_results = load_other_data = load_data
        self._service().load_trajectory(
            self, name=name if name is not None else (None if index is not None else self._name),
            index=index, as_new=as_new, load_parameters=load_parameters,
            load_derived_parameters=load_derived_parameters, load_results=load_results,
            load_other_data=load_other_data, with_run_information=with_run_information)
        return self

    def f_load_skeleton(self) -> "Trajectory":
        return self.f_load(load_parameters=1, load_derived_parameters=1, load_results=1)

    def f_load_item(self, item: Any, *args: Any, **kwargs: Any) -> None:
        self.f_load_items([item])

    def f_load_items(self, iterator: Iterable, *args: Any, **kwargs: Any) -> None:
        for item in iterator:
            full = item if isinstance(item, str) else item._full_name
            self._load_subtree(full, recursive=True, load_data=2)

    def _load_subtree(self, full_name: str, recursive: bool, load_data: int) -> Any:
        return self._service().load_subtree(self, full_name, recursive=recursive,
                                            load_data=load_data)

    def __setstate__(self, state: dict) -> None:
        """After unpickling or ``copy.deepcopy``: leaves point back to this trajectory."""
        self.__dict__.update(state)
        for node in self._nodes.values():
            node._traj = self

    # -- merging ---------------------------------------------------------------------------------
    def f_merge(self, other_trajectory: "Trajectory", trial_parameter: str | None = None,
                remove_duplicates: bool = False, ignore_data: Iterable[str] = (),
                backup: bool = True, move_data: bool = False,
                delete_other_trajectory: bool = False, keep_info: bool = True,
                keep_other_trajectory_info: bool = True, merge_config: bool = True,
                consecutive_merge: bool = False, slow_merge: bool = False,
                backup_filename: str | None = None) -> Any:
        """Merge another stored trajectory's runs into this one (and its file).

        Parameters must match in names and types. ``backup`` copies this trajectory's file
        first; the other's file is never modified unless ``delete_other_trajectory``.
        Semantics of every option: ``docs/merge.md``. Returns a merge report.

        Raises
        ------
        MergeError
            Incompatible trajectories; the message names the file and the parameter.
        """
        return self._service().merge(
            self, [other_trajectory], trial_parameter=trial_parameter,
            remove_duplicates=remove_duplicates, ignore_data=ignore_data, backup=backup,
            move_data=move_data, delete_other_trajectory=delete_other_trajectory,
            keep_info=keep_info, keep_other_trajectory_info=keep_other_trajectory_info,
            merge_config=merge_config, consecutive_merge=consecutive_merge,
            slow_merge=slow_merge, backup_filename=backup_filename)

    def f_merge_many(self, other_trajectories: Iterable["Trajectory"],
                     ignore_data: Iterable[str] = (), move_data: bool = False,
                     delete_other_trajectory: bool = False, keep_info: bool = True,
                     keep_other_trajectory_info: bool = True, merge_config: bool = True,
                     backup: bool = True, trial_parameter: str | None = None,
                     remove_duplicates: bool = False, backup_filename: str | None = None) -> Any:
        """Merge several stored trajectories at once: one new version of this file for all."""
        return self._service().merge(
            self, list(other_trajectories), trial_parameter=trial_parameter,
            remove_duplicates=remove_duplicates, ignore_data=ignore_data, backup=backup,
            move_data=move_data, delete_other_trajectory=delete_other_trajectory,
            keep_info=keep_info, keep_other_trajectory_info=keep_other_trajectory_info,
            merge_config=merge_config, backup_filename=backup_filename)

    def __repr__(self) -> str:
        return "<Trajectory %r: %d runs, %d explored parameters>" % (
            self._name, self._length, len(self._explored))


class RunLeaves(list):
    """The leaves one run added, with ``run_keys``: ``(column key, run index)`` or ``None``."""

    run_keys: list


def _import_class(dotted: str) -> type:
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name:
        raise UnsupportedTypeError("dynamic import %r must be 'package.module.ClassName'" % dotted)
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise UnsupportedTypeError("cannot import dynamic import %r: %s" % (dotted, exc)) from exc


def _qualname(cls: type) -> str:
    return "%s.%s" % (cls.__module__, cls.__qualname__)
