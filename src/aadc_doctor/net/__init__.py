"""The only network code of aadc-doctor: probes that return outcomes, never exceptions (see DESIGN.md)."""
