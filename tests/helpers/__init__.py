"""Helpers shared by the trajectory/storage tests (``from helpers import ...``).

``kill_writer.py`` is a script, run by path in a subprocess by the kill tests.
"""
