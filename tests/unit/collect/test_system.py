"""The pieces of WindowsSystem that do not need Windows: sc output, console decoding, command limits."""

from __future__ import annotations

import sys

import pytest

from aadc_doctor.collect.system import CollectFailure, console_text, parse_sc_output, run_command

SC_QC = """[SC] QueryServiceConfig SUCCESS

SERVICE_NAME: ADSync
        TYPE               : 10  WIN32_OWN_PROCESS
        START_TYPE         : 2   AUTO_START
        ERROR_CONTROL      : 1   NORMAL
        BINARY_PATH_NAME   : "C:\\Program Files\\Microsoft Azure AD Sync\\Bin\\miiserver.exe"
        LOAD_ORDER_GROUP   :
        TAG                : 0
        DISPLAY_NAME       : Microsoft Azure AD Sync
        DEPENDENCIES       :
        SERVICE_START_NAME : CONTOSO\\svc-adsync
"""
SC_QUERY = """
SERVICE_NAME: ADSync
        TYPE               : 10  WIN32_OWN_PROCESS
        STATE              : 4  RUNNING
                                (STOPPABLE, PAUSABLE, ACCEPTS_SHUTDOWN)
        WIN32_EXIT_CODE    : 0  (0x0)
"""


def test_sc_fields() -> None:
    fields = parse_sc_output(SC_QC + SC_QUERY)
    assert fields["START_TYPE"] == "AUTO_START"
    assert fields["STATE"] == "RUNNING"
    assert fields["SERVICE_START_NAME"] == "CONTOSO\\svc-adsync"
    assert fields["BINARY_PATH_NAME"].endswith('miiserver.exe"')


def test_console_output_in_utf16_or_a_code_page() -> None:
    text = "Current WinHTTP proxy settings:\r\n    Direct access (no proxy server).\r\n"
    assert console_text(text.encode("utf-16")) == text
    assert console_text(text.encode("utf-16-le")) == text
    assert console_text("Paramètres".encode("cp850")) == "Paramètres"


def test_a_command_that_hangs_or_is_missing_is_a_collect_failure() -> None:
    with pytest.raises(CollectFailure, match=r"did not finish within 0\.5 s"):
        run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    with pytest.raises(CollectFailure, match="not found"):
        run_command(["aadc-doctor-no-such-tool"], timeout=5)
