"""`python -m aadc_doctor` and the `aadc-doctor` command.

The CLI is imported inside ``run``: a Ctrl-C while the program is still loading is then exit 130 with one
line, like any other, not a traceback.
"""

import sys

INTERRUPTED = 130


def run() -> int:
    try:
        from aadc_doctor.cli import main

        code = main()
    except KeyboardInterrupt:  # while loading, or after main's own boundary
        sys.stderr.write("aadc-doctor: interrupted\n")
        code = INTERRUPTED
    if code == INTERRUPTED:
        _leave_now(code)
    return code


def _leave_now(code: int) -> None:
    """End an interrupted run with its exit code at once.

    When the Ctrl-C passed through code the interpreter itself ran for an extension (PyRun_*), the
    interpreter keeps a flag and, at exit, kills itself with SIGINT instead of returning the code; the run is
    over and nothing is left to clean up (helpers are stopped where they were started), so flush and go.
    """
    import contextlib
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # not when a spawned helper process imports it
    sys.exit(run())
