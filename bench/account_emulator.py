"""How long `aadc-doctor account` takes end to end (realm, tenant, sign-in, 7 Graph reads) against the
local tenant emulator, in-process; prints median and p95 per run and the requests each run makes."""

from __future__ import annotations

import io
import statistics
import sys
import time

from aadc_doctor.cli import main
from aadc_doctor.lab.tenant import LAB_PASSWORD, start_tenant_emulator

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def _timed(lab_args: list[str], *extra: str) -> float:
    start = time.perf_counter()
    main(["account", "admin@contoso.com", "--direct", *lab_args, "--json", *extra], stdout=io.StringIO(),
         stderr=io.StringIO(), env={"PW": LAB_PASSWORD})
    return (time.perf_counter() - start) * 1000


def main_bench() -> None:
    with start_tenant_emulator() as lab:
        args = lab.cli_args()
        _timed(args)  # warm-up: imports (msal, requests), trust store
        for label, extra in (("device code", ()), ("password", ("--password-env", "PW")),
                             ("no sign-in", ("--no-sign-in",))):
            before = len(lab.requests)
            times = sorted(_timed(args, *extra) for _ in range(RUNS))
            per_run = (len(lab.requests) - before) / RUNS
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"{label:<12} runs={RUNS} median={statistics.median(times):.1f} ms p95={p95:.1f} ms "
                  f"requests/run={per_run:.0f}")


if __name__ == "__main__":
    main_bench()
