"""Errors, the clock, the version and safe output files: what every stage uses."""
