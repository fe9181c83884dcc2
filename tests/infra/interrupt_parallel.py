"""Ctrl-C at random moments of ``run_tasks``' fork path, many times in one process; prints what it left behind.

Run as a separate process (``python -m tests.infra.interrupt_parallel RUNS SEED``): a SIGINT that lands after
``run_tasks`` returns must not reach pytest. Prints one JSON object: how many runs were interrupted, the
exceptions any thread raised, the threads still alive and the descriptors still open that were not before.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time

from tests.infra.parallel_tasks import square_slowly

from aadc_doctor import parallel


def _describe(fd: str) -> str:
    try:
        return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:  # the listing's own descriptor, closed by now
        return ""


def main() -> None:
    runs, seed = int(sys.argv[1]), int(sys.argv[2])
    thread_errors: list[str] = []
    threading.excepthook = lambda hook: thread_errors.append(f"{hook.thread}: {hook.exc_value!r}")
    descriptors_before = set(os.listdir("/proc/self/fd"))
    rng = random.Random(seed)
    interrupted = 0  # runs that Ctrl-C cut short (the others had returned when it came)
    for _ in range(runs):
        # a run takes 30-50 ms here: the signal comes at the start, in the middle, in the tear-down or after
        timer = threading.Timer(rng.uniform(0.0, 0.05), os.kill, (os.getpid(), signal.SIGINT))
        returned = False
        try:
            try:
                # the timer thread blocks SIGINT (inherited), so the signal reaches the main thread, as a Ctrl-C
                # does in the tool (its only other threads, the readers, block it too)
                mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                timer.start()
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                parallel.run_tasks(square_slowly, [(n, 0.002) for n in range(40)], 3, start="fork")
                returned = True
            finally:
                timer.join()
                time.sleep(0.002)  # a signal sent just as the run ended lands here, not after the loop
        except KeyboardInterrupt:
            interrupted += not returned
    time.sleep(0.05)
    print(json.dumps({
        "interrupted": interrupted,
        "thread_errors": thread_errors,
        "threads_left": [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()],
        "descriptors_left": sorted(filter(None, map(_describe, set(os.listdir("/proc/self/fd")) - descriptors_before))),
    }))


if __name__ == "__main__":
    main()
