"""Combining distenv with an existing project (the seed manual's "wrap-project" pattern).

You already have a simulator -- here ``simulate_epidemic``, an SIR model that knows nothing
about distenv. All it takes is a small wrapper that reads parameters from the trajectory,
calls the simulator and puts its results back, plus some boilerplate that creates the
Environment, adds parameters and an exploration, and runs the wrapper instead of the
simulator.

Run it with ``python examples/wrap_existing_project.py --output out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from distenv import Environment, cartesian_product, load_trajectory


# -- the existing project: knows nothing about distenv --------------------------------------------
def simulate_epidemic(infection_rate: float, recovery_rate: float, population: int,
                      days: int, initially_infected: int = 10) -> dict:
    """Daily SIR model (explicit Euler, one step per day); returns the epidemic's key figures."""
    susceptible = population - initially_infected
    infected = float(initially_infected)
    recovered = 0.0
    curve = np.empty(days)
    for day in range(days):
        new_infections = infection_rate * susceptible * infected / population
        new_recoveries = recovery_rate * infected
        susceptible -= new_infections
        infected += new_infections - new_recoveries
        recovered += new_recoveries
        curve[day] = infected
    return {"peak_infected": float(curve.max()), "peak_day": int(curve.argmax()),
            "attack_rate": recovered / population, "infected_curve": curve}


# -- the wrapper: parameters in, results out -------------------------------------------------------
def epidemic_wrapper(traj) -> float:
    outcome = simulate_epidemic(traj.infection_rate, traj.recovery_rate, traj.population,
                                traj.days)
    traj.f_add_result("peak_infected", outcome["peak_infected"],
                      comment="Result from `simulate_epidemic`")
    traj.f_add_result("peak_day", outcome["peak_day"])
    traj.f_add_result("attack_rate", outcome["attack_rate"],
                      comment="fraction of the population infected at some point")
    traj.f_add_result("infected_curve", outcome["infected_curve"])
    return outcome["attack_rate"]


# -- boilerplate -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="out", help="folder for the .hdf5 file")
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    filename = output / "wrap_existing_project.hdf5"

    with Environment(trajectory="epidemic", filename=str(filename), overwrite_file=True,
                     comment="SIR model swept over infection and recovery rates",
                     report_progress=False) as env:
        traj = env.traj
        traj.f_add_parameter("infection_rate", 0.3, comment="contacts x transmission per day")
        traj.f_add_parameter("recovery_rate", 0.1, comment="1 / days infectious")
        traj.f_add_parameter("population", 100_000)
        traj.f_add_parameter("days", 365)
        traj.f_explore(cartesian_product({"infection_rate": [0.15, 0.2, 0.3, 0.4, 0.6],
                                          "recovery_rate": [0.05, 0.1, 0.2, 0.25]}))
        env.run(epidemic_wrapper)

    frame = load_trajectory(filename=str(filename)).results_frame()
    frame["R0"] = frame["infection_rate"] / frame["recovery_rate"]
    print(frame[["infection_rate", "recovery_rate", "R0", "peak_infected", "peak_day",
                 "attack_rate", "status"]].to_string(float_format=lambda v: "%10.3f" % v))
    print("\nwrote %s (%d runs); epidemics take off where R0 > 1" % (filename, len(frame)))


if __name__ == "__main__":
    # Let's make the python evangelists happy and encapsulate the main function as you always
    # should ;-)
    main()
