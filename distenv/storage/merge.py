"""Merging stored trajectories, column-wise, without ever modifying an input.

A merge builds the merged file beside its destination and renames it into place (the
durability rule of ``docs/storage.md``): a new file for ``distenv merge`` (its first input
is the base), or a copy of the target's file for ``traj.f_merge`` -- one copy for a whole
multi-input merge. Inputs are read, never written: their journal shards not yet compacted are
read like the loader reads them and copied into the new file, while the inputs' folders stay
as they were. Per-run data is copied table by table with renumbered run indices (no Python
loop per run for column-held values); explored ranges are extended; provenance
(``config.environment``, ``config.git``, earlier ``config.merge`` records) is kept and a
``config.merge.merge_<sha7>_<time>`` record says what was merged from where.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import tables

from distenv.errors import MergeError, StorageError
from distenv.storage import journal, layout
from distenv.storage.files import (commit_temporary, copy_file, file_lock, open_for_reading,
                                   remove_stale_temporaries, temporary_name, written)
from distenv.storage.merge_copy import RunNames, copy_source, copy_target_shards, run_names_for
from distenv.storage.merge_plan import IgnoreRules, MergePlan, plan_merge, read_info, reading
from distenv.storage.merge_write import (delete_trajectory, write_backup, write_merge_records,
                                         write_overview, write_ranges)
from distenv.storage.runrows import drop_superseded

Source = tuple  # (path, trajectory name or None, index or None)


@dataclass
class MergedInput:
    """One input of a merge: where it came from, its runs, and how many were merged."""

    filename: Path
    trajectory: str
    runs: int
    merged: int


@dataclass
class MergeReport:
    """What a merge did: the file written, and the runs each input added."""

    filename: Path
    trajectory: str
    length_before: int
    length: int
    inputs: list[MergedInput] = field(default_factory=list)
    backup: Path | None = None
    seconds: float = 0.0

    @property
    def merged_runs(self) -> int:
        return sum(item.merged for item in self.inputs)


@dataclass
class MergeOptions:
    """pypet's merge options (see ``docs/merge.md``)."""

    trial_parameter: str | None = None
    remove_duplicates: bool = False
    ignore_data: Iterable[str] = ()
    keep_info: bool = True
    keep_other_trajectory_info: bool = True
    merge_config: bool = True


def merge_files(inputs: Sequence[str | os.PathLike], output: str | os.PathLike,
                trajectory: str | None = None, overwrite: bool = False, service: Any = None,
                **options: Any) -> MergeReport:
    """Merge the trajectories of several files into a new file (``distenv merge``).

    The first input is the base: the merged trajectory has its name, and the runs of the other
    inputs follow its runs in the order given. Inputs are never modified.

    Parameters
    ----------
    inputs:
        Files, each holding the trajectory (its only one, or ``trajectory``).
    output:
        The file to write. An existing file is an error unless ``overwrite``.
    trajectory:
        Name of the trajectory to take from every input.
    service:
        An :class:`~distenv.storage.HDF5StorageService` for compression and overview settings.
    **options:
        ``trial_parameter``, ``remove_duplicates``, ``ignore_data``, ``keep_info``,
        ``keep_other_trajectory_info``, ``merge_config`` (see :class:`MergeOptions`).

    Raises
    ------
    MergeError
        Incompatible inputs (the message names the file and parameter), or a bad output.
    CorruptFileError, StorageError, TrajectoryNotFoundError
        An input that is missing, damaged or lacks the trajectory (named in the message).
    """
    opts = MergeOptions(**options)
    output = Path(output)
    paths = [Path(path) for path in inputs]
    if not paths:
        raise MergeError("nothing to merge: give at least one input file")
    for path in paths:
        if path.exists() and output.exists() and os.path.samefile(path, output):
            raise MergeError("the output %s is also an input; write to another file" % output)
    if output.exists() and not overwrite:
        raise MergeError("the output %s exists already; remove it, choose another with -o, or "
                         "pass --force (overwrite=True) to replace it" % output)
    sources = [(path, trajectory, None) for path in paths]
    return _merge(sources[0], sources[1:], output, opts, _service(service), in_place=False)


def merge_into(target: Source, sources: Sequence[Source], service: Any = None,
               backup: bool = False, backup_filename: str | os.PathLike | None = None,
               delete_other_trajectory: bool = False, names: Any = None,
               **options: Any) -> MergeReport:
    """Merge ``sources`` into the stored trajectory ``target`` (its file is replaced atomically).

    ``target`` and each source are ``(path, trajectory name or None, index or None)``.
    ``backup`` first writes a complete copy of the target (``<stem>_backup_<time>.hdf5`` beside
    it, or ``backup_filename``); ``delete_other_trajectory`` removes each source trajectory from
    its file afterwards (by writing a new version of that file, never in place).
    """
    opts = MergeOptions(**options)
    path = Path(target[0])
    report = _merge(target, list(sources), path, opts, _service(service), in_place=True,
                    backup=backup_filename if backup_filename is not None else backup,
                    names=names)
    if delete_other_trajectory:
        for item in report.inputs:
            delete_trajectory(item.filename, item.trajectory, _service(service).fsync)
    return report


def _service(service: Any) -> Any:
    if service is None:
        from distenv.storage.service import HDF5StorageService
        service = HDF5StorageService()
    return service


@contextlib.contextmanager
def _locked(paths: Iterable[Path]) -> Iterator[None]:
    """Hold the change lock of every folder involved (one lock per folder, fixed order)."""
    folders = sorted({str(Path(path).resolve().parent) for path in paths})
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(file_lock(Path(folder) / "_"))
        yield


def _merge(target: Source, sources: list[Source], output: Path, opts: MergeOptions,
           service: Any, in_place: bool, backup: Any = False, names: Any = None) -> MergeReport:
    started = time.time()
    ignore = IgnoreRules(opts.ignore_data)
    with _locked([output, Path(target[0])] + [Path(source[0]) for source in sources]):
        remove_stale_temporaries(output)
        target_info = read_info(*target)
        infos = [read_info(*source) for source in sources]
        for info in infos:
            if Path(info.path).resolve() == Path(target_info.path).resolve() and \
                    info.name == target_info.name:
                raise MergeError("cannot merge %s with itself" % info.label)
        plan = plan_merge(target_info, infos, opts.trial_parameter, opts.remove_duplicates,
                          ignore)
        report = MergeReport(output, target_info.name, target_info.length, plan.length)
        if backup:
            report.backup = write_backup(target_info, backup, service)
        temporary = temporary_name(output)
        try:
            _build(temporary, plan, opts, ignore, service, in_place, names, started)
            output.parent.mkdir(parents=True, exist_ok=True)
            commit_temporary(temporary, output, service.fsync)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            if report.backup is not None:  # the target is unchanged: the backup is not needed
                with contextlib.suppress(OSError):
                    report.backup.unlink()
            raise
        if in_place:
            journal.remove_shards(target_info.shards)
    report.inputs = [MergedInput(source.info.path, source.info.name, source.info.length,
                                 len(source.kept)) for source in plan.sources]
    report.seconds = time.time() - started
    return report


def _build(temporary: Path, plan: MergePlan, opts: MergeOptions, ignore: IgnoreRules,
           service: Any, in_place: bool, names: Any, started: float) -> None:
    target = plan.target
    if temporary.exists():
        temporary.unlink()
    if in_place:
        copy_file(target.path, temporary)
        h5 = tables.open_file(str(temporary), mode="a")
    else:
        with open_for_reading(target.path) as source:
            title = source.title
        h5 = tables.open_file(str(temporary), mode="w", title=title, filters=service.filters)
    with written(h5):
        if not in_place:
            with open_for_reading(target.path) as source, reading(target.path):
                source.root._f_get_child(target.name)._f_copy(
                    newparent=h5.root, newname=target.name, recursive=True)
        group = h5.root._f_get_child(target.name)
        run_names = RunNames(run_names_for(plan, names))
        if not in_place and layout.JOURNAL_LOG in group:
            h5.remove_node(group, layout.JOURNAL_LOG)  # it listed the input's journal, not ours
        copy_target_shards(h5, group, target, service.ctx, run_names)
        if in_place:
            layout.append_journal_log(h5, group, [shard.name for shard in target.shards])
        write_ranges(h5, group, plan, service.ctx)
        for source in plan.sources:
            copy_source(h5, group, source, ignore, opts.merge_config, service.ctx, run_names)
        drop_superseded(group)  # the target's own runs made again after failing: newest row
        if run_names.custom:
            if layout.RUN_NAMES in group:
                h5.remove_node(group, layout.RUN_NAMES)
            h5.create_carray(group, layout.RUN_NAMES, filters=service.filters,
                             obj=run_names.encoded(plan.length))
        attrs = group._v_attrs
        attrs.LENGTH = plan.length
        attrs.EXPLORED = list(plan.explored)
        attrs.DEFAULT_RUN_NAMES = not run_names.custom
        if opts.keep_info:
            write_merge_records(h5, group, plan, opts, service.ctx, started)
        write_overview(h5, group, plan, service)


def list_merge_inputs(folder: str | os.PathLike, ext: str = ".hdf5") -> list[Path]:
    """Files directly in ``folder`` whose extension is ``ext``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StorageError("folder %s does not exist" % folder)
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix == ext and not path.name.startswith("."))


# -- the pypet API ----------------------------------------------------------------------------
def merge_trajectories(service: Any, traj: Any, others: Sequence[Any],
                       trial_parameter: str | None = None, remove_duplicates: bool = False,
                       ignore_data: Iterable[str] = (), backup: bool = True,
                       move_data: bool = False, delete_other_trajectory: bool = False,
                       keep_info: bool = True, keep_other_trajectory_info: bool = True,
                       merge_config: bool = True, consecutive_merge: bool = False,
                       slow_merge: bool = False,
                       backup_filename: str | os.PathLike | None = None) -> MergeReport:
    """``traj.f_merge`` / ``f_merge_many``: merge stored trajectories into ``traj``'s file.

    ``move_data``, ``consecutive_merge`` and ``slow_merge`` are accepted for pypet
    compatibility: distenv always copies (inputs are never modified), every merge is one
    atomic change of the target file, and the merge is always the fast column-wise one.
    Afterwards ``traj`` is reloaded (parameters with data, the rest as skeleton), so it shows
    the merged runs.
    """
    del move_data, consecutive_merge, slow_merge  # see the docstring
    if isinstance(ignore_data, str):
        ignore_data = [ignore_data]
    sources = []
    for other in others:
        if not hasattr(other, "_service") or not hasattr(other, "_name"):
            raise MergeError("can only merge trajectories, not %s" % type(other).__name__)
        if not other._stored:
            raise MergeError("trajectory %r was never stored; merging reads it from its file, so "
                             "call other.f_store() first" % other._name)
        sources.append((other._service().filename_for(other._name), other._name, None))
    if not sources:
        raise MergeError("nothing to merge: the list of other trajectories is empty")
    if not traj._stored or any(node.v_is_leaf and not node._stored
                               for node in list(traj._nodes.values())):
        traj.f_store()  # the merge works on the file, so what is only in memory goes there first
    target = (service.filename_for(traj._name), traj._name, None)
    names = None if traj._default_run_names else traj._wildcards
    report = merge_into(target, sources, service=service, backup=backup,
                        backup_filename=backup_filename,
                        delete_other_trajectory=delete_other_trajectory, names=names,
                        trial_parameter=trial_parameter, remove_duplicates=remove_duplicates,
                        ignore_data=ignore_data, keep_info=keep_info,
                        keep_other_trajectory_info=keep_other_trajectory_info,
                        merge_config=merge_config)
    service.load_trajectory(traj, name=traj._name, load_parameters=3, load_derived_parameters=1,
                            load_results=1)
    return report


def merge_all_in_folder(folder: str | os.PathLike, ext: str = ".hdf5", dynamic_imports: Any = None,
                        storage_service: Any = None, force: bool = False,
                        ignore_data: Iterable[str] = (), move_data: bool = False,
                        delete_other_files: bool = False, keep_info: bool = True,
                        keep_other_trajectory_info: bool = True, merge_config: bool = True,
                        backup: bool = True) -> Any:
    """Merge the newest trajectory of every ``*<ext>`` file of ``folder`` into the first file.

    Files are taken in name order; the first one receives the others' runs (its file is
    replaced atomically, with a backup beside it if ``backup``). Other files are never
    modified, unless ``delete_other_files`` removes them (and their journals) afterwards.

    Parameters
    ----------
    folder:
        Folder to look in (not recursive).
    ext:
        File extension, with the dot.
    dynamic_imports:
        Custom leaf classes, for loading the merged trajectory.
    storage_service:
        A storage service class (called with ``filename=``) or ``None`` for the HDF5 one.
    force, move_data:
        Accepted for pypet compatibility (no version check is needed; data is always copied).
    ignore_data, keep_info, keep_other_trajectory_info, merge_config, backup:
        As for :meth:`~distenv.trajectory.Trajectory.f_merge`.

    Returns
    -------
    Trajectory
        The merged trajectory, loaded from the first file.

    Example
    -------
    >>> traj = merge_all_in_folder('out/', ext='.h5')
    """
    del force, move_data
    from distenv.storage import load_trajectory
    files = list_merge_inputs(folder, ext)
    if not files:
        raise MergeError("no %s files in folder %s to merge" % (ext, folder))
    factory = storage_service if storage_service is not None else None
    service = factory(filename=files[0]) if callable(factory) else factory
    if len(files) > 1:
        report = merge_into((files[0], None, -1), [(path, None, -1) for path in files[1:]],
                            service=service, backup=backup, ignore_data=ignore_data,
                            keep_info=keep_info,
                            keep_other_trajectory_info=keep_other_trajectory_info,
                            merge_config=merge_config)
        if delete_other_files:
            for item in report.inputs:
                directory = journal.journal_dir(Path(item.filename), item.trajectory)
                journal.remove_shards(journal.list_shards(directory))
                Path(item.filename).unlink()
    return load_trajectory(index=-1, filename=str(files[0]), dynamic_imports=dynamic_imports,
                           load_all=None, load_parameters=2, load_derived_parameters=1,
                           load_results=1, storage_service=service)
