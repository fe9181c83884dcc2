"""Canary: no token, password or proxy password of an `account` run shows up in any output, file, log or error.

The emulator issues tokens that start with a canary and are NOT JWT-shaped, so the generic JWT scrubber
cannot be what hides them: only the tool's own discipline (tokens kept in memory, registered secrets) can.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aadc_doctor.account.signin import AccessToken
from aadc_doctor.lab.tenant import LabUser, TenantEmulator, default_directory, start_tenant_emulator

TOKEN_CANARY = "TOKENCANARY"
PASSWORD = "PwCanary-3kd9s"
PROXY_PASSWORD = "ProxyCanary-8sj2"
CANARIES = (TOKEN_CANARY, PASSWORD, PROXY_PASSWORD)


@pytest.fixture(scope="module")
def lab() -> Iterator[TenantEmulator]:
    directory = default_directory()
    directory.add_user(LabUser(upn="canary@contoso.com", tenant="Contoso", password=PASSWORD,
                               roles=("62e90394-69f5-4237-9190-012177145e10",)))
    directory.add_user(LabUser(upn="canarypim@contoso.com", tenant="Contoso", password=PASSWORD,
                               eligible_roles=("62e90394-69f5-4237-9190-012177145e10",)))
    with start_tenant_emulator(directory, token_prefix=TOKEN_CANARY) as emulator:
        yield emulator


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[_Collect]:
    """Every log record of the run at DEBUG (MSAL's and urllib3's included), as a verbose user would see them."""
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_clean(*texts: str) -> None:
    for canary in CANARIES:
        for text in texts:
            assert canary not in text, f"{canary} leaked"


@pytest.mark.parametrize("args", [
    ("canary@contoso.com", "--password-env", "PW"),  # password flow, success, Graph calls
    ("canarypim@contoso.com", "--password-env", "PW"),  # success with an error finding
    ("canary@contoso.com",),  # device code flow
    ("admin@contoso.com", "--password-env", "PW"),  # wrong password for this account: Invalid Grant
], ids=["password-ok", "password-pim", "device-code", "invalid-grant"])
def test_no_secret_in_outputs_files_or_logs(lab: TenantEmulator, run_cli: Callable[..., Any], tmp_path: Path,
                                            all_logs: _Collect, args: tuple[str, ...]) -> None:
    out_file = tmp_path / "report.json"
    env = {"PW": PASSWORD}
    json_run = run_cli("account", *args, "--direct", *lab.cli_args(), "--json", "--debug",
                       "--output", str(out_file), env=env)
    human_run = run_cli("account", *args, "--direct", *lab.cli_args(), "--debug", env=env)
    assert json_run.stdout and human_run.stdout
    # the runs did get tokens (so the canary was really in play) whenever the sign-in succeeded
    if json_run.json()["results"]["sign_in"]["succeeded"]:
        assert json_run.json()["results"]["graph"] is not None
    _assert_clean(json_run.stdout, json_run.stderr, human_run.stdout, human_run.stderr, out_file.read_text(),
                  "\n".join(all_logs.texts))


def test_no_proxy_password_in_a_proxy_failure(lab: TenantEmulator, run_cli: Callable[..., Any],
                                              all_logs: _Collect) -> None:
    proxy = f"http://alice:{PROXY_PASSWORD}@127.0.0.1:{_closed_port()}"
    result = run_cli("account", "admin@contoso.com", "--proxy", proxy, *lab.cli_args(), "--json", "--debug")
    report = result.json()
    assert report["results"]["realm"]["failure"]["outcome"] == "proxy_unreachable"
    assert "alice:***@127.0.0.1" in report["findings"][0]["detail"]
    _assert_clean(result.stdout, result.stderr, "\n".join(all_logs.texts))


def test_access_token_cannot_be_printed() -> None:
    token = AccessToken(f"{TOKEN_CANARY}-x")
    _assert_clean(repr(token), str(token), f"{token}", repr([token]))
