"""Run the tenant emulator in the foreground: ``python -m aadc_doctor.lab.tenant [--port N]``.

It prints the options that point ``aadc-doctor account`` at it, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import threading

from aadc_doctor.lab.tenant.directory import LAB_PASSWORD
from aadc_doctor.lab.tenant.server import start_tenant_emulator


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m aadc_doctor.lab.tenant", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--ca-out", metavar="FILE", help="also copy the lab CA certificate to FILE")
    args = parser.parse_args()
    with start_tenant_emulator(host=args.host, port=args.port) as lab:
        ca_file = str(lab.ca_file)
        if args.ca_out:
            shutil.copyfile(lab.ca_file, args.ca_out)
            ca_file = args.ca_out
        options = " ".join(lab.connect_to_args(("login.microsoftonline.com", "login.microsoftonline.us",
                                                "graph.microsoft.com", "graph.microsoft.us")))
        print(f"tenant emulator on {lab.host}:{lab.port} (every lab account's password: {LAB_PASSWORD})")
        print(f"aadc-doctor account admin@contoso.com --direct {options} --ca-file {ca_file}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
