"""Checks, fit and the report: what a reviewer and a print shop would catch."""
