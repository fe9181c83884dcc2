"""Every command's `--json` report on fixed inputs, normalised, for the before/after comparison of issue 16.

`tests/cli/test_json_golden.py` runs each case and compares it with `tests/golden/reports/<name>.json`, written
from the code before the refactor. To rewrite the golden files after a deliberate contract change:
``.venv/bin/python -m tests.golden.cases --update`` (and say why in the commit).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "reports"
FIX = REPO / "tests" / "fixtures"
CORPUS = REPO / "corpus"
MC = FIX / "machine_config"
TODAY = "2026-12-05"


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    prepare: Callable[[Path], None] | None = None  # writes inputs into the case's work folder ($WORK)


def _server(work: Path) -> None:
    from tests.fixtures.server import fake_server

    fake_server.build(work / "server", with_admin_log=False)


def _trace(work: Path) -> None:
    from tests.fixtures.pta import tracegen

    text = "".join(tracegen.failure_entry(tracegen.CURRENT_EXE, tracegen.request_id(i), reason,
                                          tracegen.T0.replace(minute=i))
                   for i, reason in enumerate((1326, 1328, 1317, 1326, 1909, 1330, 1331, 1793)))
    (work / "trace.log").write_text(text)


def _cases() -> list[Case]:
    cases = [
        Case("explain-1328", ("explain", "1328")),
        Case("explain-aadsts", ("explain", "AADSTS80001", "0xC000006F", "407")),
        Case("explain-names", ("explain", "InvalidGrant", "Proxy Authentication Required")),
        Case("explain-line", ("explain", "Passthrough Authentication request failed. RequestId: "
                                         "'0c5c1c1e-1111-2222-3333-444455556666'. Reason: '1328'.")),
        Case("explain-nothing", ("explain", "zzzz-no-such-thing-qqq")),
        Case("helpmsg-1328", ("helpmsg", "1328")),
        Case("helpmsg-hex", ("helpmsg", "0x530")),
        Case("helpmsg-ntstatus", ("helpmsg", "0xC000006F")),
        Case("helpmsg-unknown", ("helpmsg", "65000")),
        Case("pta-dc-query", ("pta", "dc-query")),
    ]
    for config in ("valid", "authenticated", "bypass-list", "bypass-wildcard", "disabled", "https-proxy",
                   "no-scheme", "script-location", "stock-no-proxy", "system-default-only", "valid-bom",
                   "duplicate-section", "case-error"):
        cases.append(Case(f"proxy-mc-{config}", ("proxy", "--machine-config", str(MC / f"{config}.config"))))
    for exe in sorted((MC / "exe_config").glob("*.config")):
        cases.append(Case(f"proxy-exe-{exe.stem}", ("proxy", "--machine-config", str(MC / "valid.config"),
                                                    "--exe-config", str(exe))))
    for winhttp in sorted((FIX / "winhttp").glob("*.txt")):
        if winhttp.stem != "not-netsh":
            cases.append(Case(f"proxy-winhttp-{winhttp.stem}", ("proxy", "--winhttp", str(winhttp))))
    for pac in ("corporate", "direct-microsoft"):
        cases.append(Case(f"proxy-pac-{pac}", ("proxy", "--pac", str(FIX / "pac" / f"{pac}.pac"))))
    logs = [*sorted((CORPUS / "logs" / "proxy").glob("*.log")),
            CORPUS / "logs/aadconnect/msdocs_reference_proxy_log.tsv", FIX / "proxylog" / "tmg_w3c_webproxy.log"]
    for log in logs:
        cases.append(Case(f"proxylog-{log.stem}", ("proxylog", str(log))))
        cases.append(Case(f"proxylog-full-{log.stem}", ("proxylog", "--full-parse", str(log))))
    tmg = str(FIX / "proxylog/tmg_w3c_webproxy.log")
    cases.append(Case("proxylog-client", ("proxylog", "--client", "10.0.5.20", tmg)))
    for trace in sorted((CORPUS / "logs" / "pta").glob("*.log")):
        cases.append(Case(f"pta-trace-{trace.stem}", ("pta", "trace", str(trace))))
    cases.append(Case("pta-trace-generated", ("pta", "trace", "$WORK/trace.log"), _trace))
    for evtx in sorted((CORPUS / "evtx").glob("*.evtx")):
        cases.append(Case(f"pta-events-{evtx.stem}", ("pta", "events", str(evtx))))
    cases.append(Case("ad-sso-events", ("ad", "sso", "--events", str(FIX / "ad" / "dc_security_4769.xml"))))
    cases.append(Case("analyze-server", ("analyze", "$WORK/server", "--today", TODAY), _server))
    cases.append(Case("check-closed-proxy", ("check", "--proxy", "http://127.0.0.1:9", "--timeout", "2")))
    cases.append(Case("check-closed-proxy-pta", ("check", "--profile", "pta", "--proxy", "http://127.0.0.1:9",
                                                  "--timeout", "2")))
    cases.append(Case("demo-list", ("demo", "--list")))
    cases.append(Case("demo", ("demo",)))
    return cases


CASES = _cases()

_VOLATILE_KEYS = re.compile(r"^(started_at|finished_at|tool_version|elapsed_s|elapsed_ms|wall_s|duration_ms|"
                            r"ms|seconds|collected_at|generated_at|mtime|modified|lab_dir|workdir|\w*sha256|\w*fingerprint\w*|serial\w*)$")
_PORT = re.compile(r"127\.0\.0\.1:\d{2,5}")
_PORT_URL = re.compile(r"([A-Za-z0-9\]]):\d{4,5}\b")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_FINGERPRINT = re.compile(r"(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMING_KEY = re.compile(r"(_ms|_s|_seconds|timings?)$")


def normalise(value: Any, work: str, *, dates: bool, key: str = "") -> Any:
    """Volatile values (times, ports, temporary paths) replaced by placeholders; the shape and the rest kept."""
    timing = _TIMING_KEY.search(key) and isinstance(value, int | float) and not isinstance(value, bool)
    if _VOLATILE_KEYS.match(key) or (dates and key == "size") or timing:
        return "<volatile>"
    if isinstance(value, dict):
        return {_text(k, work, dates=dates): normalise(v, work, dates=dates, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, work, dates=dates, key=key) for v in value]
    if isinstance(value, str):
        return _text(value, work, dates=dates)
    return value


def _text(text: str, work: str, *, dates: bool) -> str:
    text = text.replace(work, "$WORK").replace(str(REPO), "$REPO")
    text = re.sub(r"/tmp/[^\s\"',;)]*?aadc-doctor-lab-[^/\s\"',;)]+", "$LAB", text)
    text = re.sub(r"/tmp/[A-Za-z0-9_.-]*lab[A-Za-z0-9_.-]*", "$LAB", text)
    text = _PORT.sub("127.0.0.1:<port>", text)
    text = _PORT_URL.sub(r"\1:<port>", text)
    if dates:
        text = _TS.sub("<time>", text)
        text = _FINGERPRINT.sub("<sha256>", text)
        text = _UUID.sub("<uuid>", text)
    return text


@contextlib.contextmanager
def _no_secrets_registered() -> Iterator[None]:
    """The run as in a fresh process: a password an earlier test registered ("wrong") would be scrubbed from the
    report's texts (the registry is per process, aadc_doctor/secrets.py)."""
    from aadc_doctor import secrets

    with secrets._lock:
        saved = set(secrets._forms)
        secrets._forms.clear()
        secrets._forms_longest_first = ()
    try:
        with secrets.forgotten_afterwards():
            yield
    finally:
        with secrets._lock:
            secrets._forms.update(saved)
            secrets._forms_longest_first = tuple(sorted(secrets._forms, key=len, reverse=True))


def run_case(case: Case, work: Path) -> dict[str, Any]:
    """Run one case in-process with --json; the exit code and the normalised report."""
    from aadc_doctor.cli import main

    work.mkdir(parents=True, exist_ok=True)
    if case.prepare is not None:
        case.prepare(work)
    argv = [a.replace("$WORK", str(work)) for a in case.argv]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_COLOR"] = "1"
    out, err = io.StringIO(), io.StringIO()
    with _no_secrets_registered():
        code = main([*argv, "--json"], stdout=out, stderr=err, env=env)
    try:
        report: Any = json.loads(out.getvalue())
    except ValueError:
        report = {"stdout": out.getvalue()}
    dates = case.prepare is not None or case.name.startswith(("demo", "check"))
    return {"exit_code": code, "stderr": _text(err.getvalue(), str(work), dates=True) if code >= 2 else "",
            "report": normalise(report, str(work), dates=dates)}


def _main(argv: list[str]) -> int:
    import tempfile

    update = "--update" in argv
    names = [a for a in argv if not a.startswith("-")]
    GOLDEN.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if names and case.name not in names:
                continue
            got = run_case(case, Path(tmp) / case.name)
            path = GOLDEN / f"{case.name}.json"
            text = json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            if update:
                path.write_text(text, "utf-8")
            elif not path.is_file() or path.read_text("utf-8") != text:
                failed += 1
                print(f"DIFFERS: {case.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
