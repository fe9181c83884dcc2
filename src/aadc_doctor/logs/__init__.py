"""Streaming parsers, one per log format: typed records out, bad lines counted, never a crash."""
