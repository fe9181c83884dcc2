"""`aadc-doctor helpmsg N`: byte-exact `net helpmsg` output, checked against the official Win32 table."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode
from aadc_doctor.explain.netmsg import helpmsg


def win32_table(corpus: Path) -> dict[int, dict[str, str]]:
    with (corpus / "errors" / "win32.tsv").open(encoding="utf-8", newline="") as fh:
        return {int(r["code"]): r for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}


@pytest.mark.parametrize("code", [0, 5, 53, 64, 1225, 1311, 1317, 1326, 1327, 1328, 1329, 1330, 1331, 1385, 1722,
                                  1793, 1907, 1909, 1935, 2221, 2242, 10060, 15862])
def test_prints_blank_line_message_blank_line(run_cli, corpus: Path, code: int) -> None:
    result = run_cli("helpmsg", str(code))
    assert result.code == ExitCode.OK
    assert result.stdout == "\n" + win32_table(corpus)[code]["message"] + "\n\n"
    assert result.stderr == ""


def test_every_message_is_exact(corpus: Path) -> None:
    """All 3,066 codes (through the function the command prints): the table's message, inserts as ***."""
    for code, row in win32_table(corpus).items():
        answer = helpmsg(code)
        assert answer.found
        assert answer.text == "\n" + re.sub(r"%\d{1,2}(?:![^!]*!)?", "***", row["message"]) + "\n\n", code


def test_inserts_are_starred_unless_raw(run_cli, corpus: Path) -> None:
    message = win32_table(corpus)[193]["message"]
    assert message.startswith("%1 ")
    assert run_cli("helpmsg", "193").stdout == "\n" + message.replace("%1", "***") + "\n\n"
    assert run_cli("helpmsg", "193", "--raw").stdout == "\n" + message + "\n\n"


def test_hex_input(run_cli) -> None:
    assert run_cli("helpmsg", "0x530").stdout == run_cli("helpmsg", "1328").stdout
    assert run_cli("helpmsg", "0X52E").stdout == run_cli("helpmsg", "1326").stdout


def test_hresult_and_ntstatus_are_reduced_with_a_note(run_cli) -> None:
    expected = run_cli("helpmsg", "1328").stdout
    for arg in ("0x80070530", "-2147023568", "0xC000006F"):
        result = run_cli("helpmsg", arg)
        assert result.code == ExitCode.OK and result.stdout == expected, arg
        assert result.stderr.startswith("note: ") and "1328" in result.stderr


def test_unknown_number_prints_nets_answer_and_exits_1(run_cli) -> None:
    result = run_cli("helpmsg", "99999")
    assert result.code == ExitCode.PROBLEMS_FOUND
    assert result.stdout == ""
    assert result.stderr == ("\n99999 is not a valid message number.\n\n"
                             "More help is available by typing NET HELPMSG 3871.\n\n")
    data = run_cli("helpmsg", "99999", "--json")
    assert data.code == ExitCode.PROBLEMS_FOUND and data.json()["results"]["found"] is False


@pytest.mark.parametrize("arg", ["abc", "AADSTS50126", "13 28", "", "1e3", "0xZZ", "4294967296", "--", "1.5"])
def test_not_a_number_exits_2_in_one_line(run_cli, arg: str) -> None:
    result = run_cli("helpmsg", arg) if arg != "--" else run_cli("helpmsg")
    assert result.code == ExitCode.USAGE_OR_INPUT
    assert result.stderr.startswith("aadc-doctor: error: ")
    assert "Traceback" not in result.stderr


def test_json_report(run_cli) -> None:
    results = run_cli("helpmsg", "1328", "--json").json()["results"]
    assert results["name"] == "ERROR_INVALID_LOGON_HOURS" and results["hex"] == "0x530" and results["found"]
