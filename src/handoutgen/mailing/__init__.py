"""Recipient lists and batch runs."""
