"""Variable data: one layout per shared option set, personal text stamped on top."""
