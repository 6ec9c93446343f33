"""Tests of distenv.executors: a conformance suite plus short backend-specific modules."""
