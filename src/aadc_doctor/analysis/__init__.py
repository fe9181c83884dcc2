"""Pure functions from evidence and records to findings; no I/O."""
