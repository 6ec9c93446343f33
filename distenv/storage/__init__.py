"""HDF5 storage: layout, value codecs, the journal, the storage service, loading."""

from __future__ import annotations

from typing import Any

from distenv.storage.service import HDF5StorageService, trajectory_names
from distenv.trajectory import trajectory as _trajectory_module
from distenv.trajectory.trajectory import Trajectory

_trajectory_module.default_storage_factory = HDF5StorageService


def load_trajectory(name: str | None = None, index: int | None = None, as_new: bool = False,
                    load_all: int | None = 2, load_parameters: int = 2,
                    load_derived_parameters: int = 2, load_results: int = 2,
                    load_other_data: int = 2, recursive: bool = True,
                    load_data: int | None = None, max_depth: int | None = None,
                    force: bool = False, dynamic_imports: Any = None,
                    with_run_information: bool = True, with_meta_data: bool = True,
                    storage_service: Any = None, filename: str | None = None,
                    **storage_kwargs: Any) -> Trajectory:
    """Load a trajectory from a file.

    Parameters
    ----------
    name, index:
        Which trajectory of the file (by name, or by creation order; ``-1`` is the newest).
        If the file holds just one, neither is needed.
    load_all:
        Sets every loading level at once: 0 nothing, 1 skeleton (data read on first use),
        2 data (default). ``None`` uses the separate levels.
    filename:
        The HDF5 file.

    Raises
    ------
    StorageError, CorruptFileError, TrajectoryNotFoundError

    Example
    -------
    >>> traj = load_trajectory(filename='hdf5/sweep.hdf5')
    >>> traj.results_frame()
    """
    if load_data is not None:
        load_all = load_data
    if load_all is not None:
        load_parameters = load_derived_parameters = load_results = load_other_data = load_all
    if storage_service is None:
        if filename is None:
            raise TypeError("load_trajectory needs filename= (or storage_service=)")
        storage_service = HDF5StorageService(filename=filename, **storage_kwargs)
    traj = Trajectory(name="loading", dynamic_imports=dynamic_imports,
                      storage_service=storage_service)
    storage_service.load_trajectory(
        traj, name=name, index=index, as_new=as_new, load_parameters=load_parameters,
        load_derived_parameters=load_derived_parameters, load_results=load_results,
        load_other_data=load_other_data, with_run_information=with_run_information)
    return traj


__all__ = ["HDF5StorageService", "load_trajectory", "trajectory_names"]
