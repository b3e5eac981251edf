"""Benchmarks: `make bench` (python -m bench) runs them all; a smoke run of each (`--quick`)
is part of the test suite so they cannot rot. Speed is measured here, never by timed tests."""
