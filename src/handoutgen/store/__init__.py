"""What is kept on disk between runs: the cache, locks, private files and the audit trail."""
