"""Renderers: the same Report to a terminal (rich, plain when piped) or to JSON."""
