"""handoutgen: reviewed medical content into personalized, printable PDF handouts."""

__version__ = "0.1.0"
