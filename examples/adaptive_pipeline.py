"""An adaptive search with a pipeline and post-processing: where does the Lorenz system turn
chaotic along rho?

``env.pipeline(pipeline)`` lets the pipeline function add the parameters and a first, coarse
exploration, and return the job and a post-processing function. After every round of runs the
post-processing function looks at all results so far, finds the two neighbouring rho values
between which the Lyapunov exponent changes sign, and returns a dict that expands the
trajectory by the midpoint -- a bisection. distenv runs the new point, calls post-processing
again, and stops when it returns ``None``. Every round lands in the same HDF5 file.

Run it with ``python examples/adaptive_pipeline.py --output out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distenv import Environment, load_trajectory
from lorenz_sweep import lorenz_lyapunov


def lyapunov_job(traj) -> float:
    exponent, _, _ = lorenz_lyapunov(traj.sigma, traj.rho, traj.beta, traj.dt, traj.steps,
                                     traj.transient)
    traj.f_add_result("lyapunov", exponent, comment="largest Lyapunov exponent")
    return exponent


def bisect_onset(traj, results, tolerance: float) -> dict | None:
    """Expand by the midpoint of the bracket where the exponent changes sign."""
    rhos = traj.f_get("rho").f_get_range()
    points = sorted((rhos[index], exponent) for index, exponent in results)
    for (low, low_exponent), (high, high_exponent) in zip(points, points[1:]):
        if low_exponent <= 0.0 < high_exponent:
            if high - low <= tolerance:
                print("onset of chaos between rho = %.3f and %.3f (%d runs)"
                      % (low, high, len(results)))
                traj.f_add_result("onset.low", low, comment="largest rho seen without chaos")
                traj.f_add_result("onset.high", high, comment="smallest rho seen with chaos")
                return None
            middle = 0.5 * (low + high)
            print("  bracket [%.3f, %.3f] -> trying rho = %.3f" % (low, high, middle))
            return {"rho": [middle]}
    print("no sign change between rho = %g and %g" % (points[0][0], points[-1][0]))
    return None


def pipeline(traj):
    traj.f_add_parameter("sigma", 10.0)
    traj.f_add_parameter("rho", 28.0)
    traj.f_add_parameter("beta", 8.0 / 3.0)
    traj.f_add_parameter("dt", 0.01)
    traj.f_add_parameter("steps", 12000)
    traj.f_add_parameter("transient", 4000)
    traj.f_explore({"rho": [15.0, 20.0, 30.0, 35.0]})
    return (lyapunov_job, (), {}), (bisect_onset, (), {"tolerance": 0.2})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="out", help="folder for the .hdf5 file")
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    filename = output / "adaptive_pipeline.hdf5"
    env = Environment(trajectory="chaos_onset", filename=str(filename), overwrite_file=True,
                      report_progress=False)
    results = env.pipeline(pipeline)
    traj = load_trajectory(filename=str(filename))
    frame = traj.results_frame().sort_values("rho")
    print(frame[["rho", "lyapunov", "status"]].to_string(float_format=lambda v: "%9.4f" % v))
    print("\n%d runs in %s; stored bracket: [%.3f, %.3f]. For comparison: the strange "
          "attractor appears at rho = 24.06 and the fixed points lose stability at 24.74; a "
          "finite simulation also counts long chaotic transients just below." % (
              len(results), filename, traj.onset.low, traj.onset.high))


if __name__ == "__main__":
    main()
