"""The child process that runs one PAC script: ``python -P -m aadc_doctor.proxyconfig.pac_worker``.

pypac's JavaScript engine (dukpy) holds the GIL while a script runs, so a script that loops forever cannot
be stopped from inside the process that runs it. The parent (``pac.PacWorker``) keeps this worker for the
whole run and kills it when a call overruns its time limit.

Protocol: one JSON object per line, UTF-8, on stdin/stdout. The worker first writes ``{"ready": true}``;
then it answers each request with ``{"ok": true, ...}`` or ``{"ok": false, "kind", "message"}``:

- ``{"op": "load", "text": SCRIPT}`` -> ``{"ok": true}``; kind ``malformed`` when the script does not compile
  or defines no ``FindProxyForURL`` (pypac also makes one test call while loading);
- ``{"op": "find", "url": URL, "host": HOST}`` -> ``{"ok": true, "choices": ["DIRECT" | proxy URL, ...]}``;
  kind ``runtime`` when the script throws, ``result`` when it returns something that is not a proxy list.

Kind ``internal`` is a defect of this module, never of the script. The worker exits at end of input.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import warnings
from typing import IO, Any

MAX_RESULT_CHARS = 16 * 1024  # "PROXY a:1; PROXY b:2; DIRECT" is tens of characters
# dukpy gives every script Node-like ``require`` (reads files as modules) and ``process.env``. A PAC file may come
# from the network (WPAD), so the script loses them before it runs; kept on the script's first line, so the line
# numbers of syntax errors stay the script's own.
LOCKDOWN = ("var require = undefined, process = undefined, _dukpy_eval_cjs_source = undefined, "
            "_dukpy_cjs_source_compiles = undefined; ")


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())[:300]


def js_error_message(exc: BaseException) -> str:
    """The engine's error without its stack: ``ReferenceError: x is not defined``; a syntax error keeps its line.

    Runtime line numbers are left out: the engine reports some of them wrong (``1:1`` for an undefined function).
    """
    text = str(getattr(exc, "original_exc", None) or exc).strip()
    lines = text.splitlines() or [type(exc).__name__]
    message = lines[0].strip()
    if "FindProxyForURLEx is not defined" in message:
        return "the script defines no FindProxyForURL function"
    if message.startswith("SyntaxError") and len(lines) > 1:
        where = re.search(r"<dukpy>:(\d+):\d+", lines[1])
        if where:
            message += f" (line {where[1]})"
    return _one_line(message)


class _Engine:
    """The loaded script; None until a ``load`` succeeded."""

    def __init__(self) -> None:
        self.pac: Any = None

    def load(self, text: str) -> dict[str, Any]:
        from pypac.parser import PACFile

        try:
            self.pac = PACFile(LOCKDOWN + text)
        except Exception as exc:  # MalformedPacError, and the engine's own types for syntax errors
            message = js_error_message(exc)
            if "at FindProxyForURL (" in str(getattr(exc, "original_exc", None) or exc):
                message = f"it throws when called with url '/', host '0.0.0.0' (pypac's test call): {message}"
            return {"ok": False, "kind": "malformed", "message": message}
        return {"ok": True}

    def find(self, url: str, host: str) -> dict[str, Any]:
        from pypac.parser import parse_pac_value

        if self.pac is None:
            return {"ok": False, "kind": "internal", "message": "find before a successful load"}
        try:
            value = self.pac.find_proxy_for_url(url, host)
        except Exception as exc:  # the engine raises JSRuntimeError for any script error
            return {"ok": False, "kind": "runtime", "message": js_error_message(exc)}
        if value is None or (isinstance(value, str) and not value.strip()):
            return {"ok": True, "choices": ["DIRECT"]}  # browsers and WinHTTP treat "" / null as DIRECT
        if not isinstance(value, str):
            return {"ok": False, "kind": "result",
                    "message": f"returned a {type(value).__name__}, not a string like 'PROXY host:port'"}
        if len(value) > MAX_RESULT_CHARS:
            return {"ok": False, "kind": "result", "message": f"returned {len(value)} characters; not a proxy list"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pypac warns about each element it cannot read, and skips it
            choices = parse_pac_value(value)
        return {"ok": True, "choices": choices or ["DIRECT"]}


def handle(engine: _Engine, request: Any) -> dict[str, Any]:
    """One reply for one request; never raises."""
    try:
        op = request.get("op") if isinstance(request, dict) else None
        if op == "load":
            return engine.load(str(request["text"]))
        if op == "find":
            return engine.find(str(request["url"]), str(request["host"]))
        return {"ok": False, "kind": "internal", "message": f"unknown request {op!r}"}
    except Exception as exc:  # a defect here must reach the parent as a reply, not kill the worker silently
        return {"ok": False, "kind": "internal", "message": f"{type(exc).__name__}: {_one_line(exc)}"}


def _protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """stdin/stdout as bytes; anything else that writes to fd 1 (a library's print) goes to stderr instead."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return sys.stdin.buffer, out


def main() -> int:
    # Ctrl+C reaches every process of the console; the parent decides, and kills this worker if needed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import pypac.parser  # noqa: F401  (imported before "ready", so the parent's time limit covers only the script)

    requests, replies = _protocol_streams()
    replies.write(b'{"ready": true}\n')
    replies.flush()
    engine = _Engine()
    while line := requests.readline():
        try:
            request = json.loads(line)
        except ValueError as exc:
            reply: dict[str, Any] = {"ok": False, "kind": "internal", "message": f"bad request: {_one_line(exc)}"}
        else:
            reply = handle(engine, request)
        replies.write(json.dumps(reply).encode("utf-8") + b"\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
