"""Where is the Lorenz system chaotic? A 2-D parameter sweep with distenv.

For every point of a (sigma, rho) grid the Lorenz equations are integrated (classic RK4) and
the largest Lyapunov exponent is estimated from two nearby trajectories (Benettin's method):
positive means chaos, negative means the orbit settles on a fixed point. The runs execute in a
pool of local processes (one per CPU; a writer process stores them: ``wrap_mode='QUEUE'``).
Everything -- the
parameters, the exploration, per-run results, run status and provenance -- ends up in one HDF5
file; the script then reads the file back, prints what it holds and a table of results, and
writes a heat map of the exponent over the grid as a PNG.

Run it with ``bash scripts/demo.sh`` (or ``python examples/lorenz_sweep.py --output out``).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from distenv import Environment, HDF5StorageService, cartesian_product, load_trajectory


# -- the simulation -----------------------------------------------------------------------------
def rk4_step(x: float, y: float, z: float, sigma: float, rho: float, beta: float,
             dt: float) -> tuple[float, float, float]:
    """One classic Runge-Kutta step of the Lorenz equations (plain floats: fast for 3-D)."""
    def f(x: float, y: float, z: float) -> tuple[float, float, float]:
        return sigma * (y - x), x * (rho - z) - y, x * y - beta * z

    k1 = f(x, y, z)
    k2 = f(x + 0.5 * dt * k1[0], y + 0.5 * dt * k1[1], z + 0.5 * dt * k1[2])
    k3 = f(x + 0.5 * dt * k2[0], y + 0.5 * dt * k2[1], z + 0.5 * dt * k2[2])
    k4 = f(x + dt * k3[0], y + dt * k3[1], z + dt * k3[2])
    sixth = dt / 6.0
    return (x + sixth * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
            y + sixth * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]),
            z + sixth * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2]))


def lorenz_lyapunov(sigma: float, rho: float, beta: float, dt: float, steps: int,
                    transient: int, samples: int = 100) -> tuple[float, float, np.ndarray]:
    """Largest Lyapunov exponent, mean of z, and ``samples`` values of z(t) after the transient.

    Two trajectories start ``1e-8`` apart; after every step their distance is measured and the
    second one is pulled back to distance ``1e-8`` along the same direction (Benettin et al.).
    """
    separation = 1e-8
    a = (1.0, 1.0, 1.0)
    b = (1.0 + separation, 1.0, 1.0)
    log_growth, z_sum = 0.0, 0.0
    z_trace = np.empty(samples)
    every = max(1, (steps - transient) // samples)
    for step in range(steps):
        a = rk4_step(*a, sigma, rho, beta, dt)
        b = rk4_step(*b, sigma, rho, beta, dt)
        dx, dy, dz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
        distance = math.sqrt(dx * dx + dy * dy + dz * dz) or separation
        scale = separation / distance
        b = (a[0] + dx * scale, a[1] + dy * scale, a[2] + dz * scale)
        if step >= transient:
            log_growth += math.log(distance / separation)
            z_sum += a[2]
            sample = (step - transient) // every
            if (step - transient) % every == 0 and sample < samples:
                z_trace[sample] = a[2]
    measured = steps - transient
    return log_growth / (measured * dt), z_sum / measured, z_trace


def run_lorenz(traj) -> float:
    """The job distenv runs once per grid point: read parameters, simulate, add results."""
    exponent, mean_z, z_trace = lorenz_lyapunov(
        traj.sigma, traj.rho, traj.beta, traj.dt, traj.steps, traj.transient)
    traj.f_add_result("lyapunov", exponent, comment="largest Lyapunov exponent (1/time)")
    traj.f_add_result("mean_z", mean_z, comment="time average of z after the transient")
    traj.f_add_result("z_trace", z_trace, comment="z(t) sampled after the transient")
    return exponent


# -- the experiment --------------------------------------------------------------------------------
def add_parameters(traj, sigmas: list[float], rhos: list[float], steps: int) -> None:
    traj.f_add_parameter("lorenz.sigma", 10.0, comment="Prandtl number")
    traj.f_add_parameter("lorenz.rho", 28.0, comment="Rayleigh number")
    traj.f_add_parameter("lorenz.beta", 8.0 / 3.0, comment="geometric factor")
    traj.f_add_parameter("integration.dt", 0.01, comment="RK4 time step")
    traj.f_add_parameter("integration.steps", steps, comment="number of RK4 steps")
    traj.f_add_parameter("integration.transient", steps // 4, comment="steps not measured")
    traj.f_explore(cartesian_product({"sigma": sigmas, "rho": rhos}))


def describe_file(path: Path) -> None:
    """Print what the HDF5 file holds, read back from disk."""
    names = HDF5StorageService(filename=path).trajectory_names()
    print("\n%s (%.0f kB) holds %d trajectory(ies): %s"
          % (path, path.stat().st_size / 1024, len(names), ", ".join(names)))
    traj = load_trajectory(filename=str(path), name=names[-1])
    frame = traj.results_frame()
    counts = frame["status"].value_counts().to_dict()
    print("trajectory %r: %d runs (%s), comment: %s"
          % (traj.v_name, len(traj), ", ".join("%d %s" % (n, s) for s, n in counts.items()),
             traj.v_comment))
    explored = traj.f_get_explored_parameters()
    print("parameters:")
    for name, parameter in traj.f_get_parameters().items():
        if name in explored:
            values = parameter.f_get_range()
            print("  %-32s explored: %d runs, %d distinct values from %g to %g"
                  % (name, len(values), len(set(values)), min(values), max(values)))
        else:
            print("  %-32s = %r" % (name, parameter.f_get()))
    environments = sorted({name.split(".")[2] for name in traj.f_get_config()
                           if name.startswith("config.environment.")})
    print("provenance: config.environment.%s" % ", ".join(environments))
    traj.f_set_crun(0)
    print("results per run: lyapunov, mean_z (scalars), z_trace (array of shape %s)"
          % (traj.z_trace.shape,))
    traj.f_restore_default()


def plot(frame, path: Path) -> None:
    """Heat maps of the Lyapunov exponent and of mean z over the (sigma, rho) grid."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sigmas = np.unique(frame["sigma"])
    rhos = np.unique(frame["rho"])
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for axis, column, title, cmap in (
            (axes[0], "lyapunov", "largest Lyapunov exponent", "RdBu_r"),
            (axes[1], "mean_z", "time average of z", "viridis")):
        grid = frame.pivot_table(index="rho", columns="sigma", values=column)
        grid = grid.reindex(index=rhos, columns=sigmas)
        if column == "lyapunov":
            limit = float(np.nanmax(np.abs(grid.values)))
            image = axis.pcolormesh(sigmas, rhos, grid.values, cmap=cmap, shading="nearest",
                                    vmin=-limit, vmax=limit)
            axis.contour(sigmas, rhos, grid.values, levels=[0.0], colors="k", linewidths=1)
        else:
            image = axis.pcolormesh(sigmas, rhos, grid.values, cmap=cmap, shading="nearest")
        figure.colorbar(image, ax=axis)
        axis.set_xlabel("sigma")
        axis.set_ylabel("rho")
        axis.set_title(title)
    figure.suptitle("Lorenz system: %d runs stored in one HDF5 file with distenv" % len(frame))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="out", help="folder for the .hdf5 and .png files")
    parser.add_argument("--grid", type=int, nargs=2, default=(12, 16), metavar=("NSIGMA", "NRHO"),
                        help="grid points along sigma and rho (default 12 16)")
    parser.add_argument("--steps", type=int, default=8000, help="RK4 steps per run")
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    hdf5_file = output / "lorenz_sweep.hdf5"

    started = time.time()
    env = Environment(trajectory="lorenz_sweep", filename=str(hdf5_file), overwrite_file=True,
                      comment="Largest Lyapunov exponent of the Lorenz system over (sigma, rho)",
                      report_progress=(10, "print", 20),
                      multiproc=True, ncores=0, use_pool=True, wrap_mode="QUEUE")
    traj = env.trajectory
    add_parameters(traj, sigmas=[float(s) for s in np.linspace(4.0, 18.0, args.grid[0])],
                   rhos=[float(r) for r in np.linspace(10.0, 40.0, args.grid[1])],
                   steps=args.steps)
    print("running %d simulations of the Lorenz system (%s) ..." % (len(traj), env.name))
    env.run(run_lorenz)
    print("done in %.1f s" % (time.time() - started))

    describe_file(hdf5_file)
    frame = load_trajectory(filename=str(hdf5_file)).results_frame()
    columns = ["sigma", "rho", "lyapunov", "mean_z", "status", "runtime"]
    with np.printoptions(precision=3):
        print("\nresults (traj.results_frame()):")
        print(frame[columns].to_string(float_format=lambda value: "%8.3f" % value,
                                       max_rows=24))
    chaotic = frame[frame["lyapunov"] > 0.05]
    print("\n%d of %d grid points are chaotic (exponent > 0.05); at sigma=10, rho=28 the "
          "textbook value is about 0.9." % (len(chaotic), len(frame)))
    png = output / "lorenz_sweep.png"
    plot(frame, png)
    print("wrote %s and %s" % (hdf5_file, png))


if __name__ == "__main__":
    main()
