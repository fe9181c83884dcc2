"""code_finder: every code in pasted text, read the way its context says, and no digits taken from noise."""

from __future__ import annotations

import pytest

from aadc_doctor.explain.code_finder import Hint, blank_noise, find_codes

TRACE_LINE = ("\tApplicationProxyConnectorService.exe Error: 0 : Passthrough Authentication request failed. "
              "RequestId: 'df63f4a4-68b9-44ae-8d81-6ad2d844d84e'. Reason: '1328'.\n"
              "\t    ThreadId=5\n\t    DateTime=xxxx-xx-xxTxx:xx:xx.xxxxxxZ\n")
IWR_407 = ("Invoke-WebRequest : The remote server returned an error: (407) Proxy Authentication Required.\n"
           "At line:1 char:1\n+ Invoke-WebRequest -Uri https://adminwebservice.microsoftonline.com/"
           "ProvisioningService.svc\n    + CategoryInfo          : InvalidOperation: (System.Net.HttpWebRequest:"
           "HttpWebRequest) [Invoke-WebRequest], WebException\n")
AADSTS_MESSAGE = ("AADSTS50126: Error validating credentials due to invalid username or password.\r\n"
                  "Trace ID: 0f4b5a36-3c1d-4b5e-9a33-1b2c3d4e5f60\r\n"
                  "Correlation ID: 7c1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8\r\nTimestamp: 2024-05-01 10:11:12Z\r\n")


def values(text: str) -> list[tuple[int, Hint]]:
    return [(f.value, f.hint) for f in find_codes(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("AADSTS80001", [(80001, Hint.AADSTS)]),
    ("aadsts 50126", [(50126, Hint.AADSTS)]),
    ("80001", [(80001, Hint.NONE)]),
    ("1328", [(1328, Hint.NONE)]),
    ("0x530", [(0x530, Hint.HEX)]),
    ("0xC000006F", [(0xC000006F, Hint.HEX)]),
    ("C000006F", [(0xC000006F, Hint.NTSTATUS)]),
    ("c000006f", [(0xC000006F, Hint.NTSTATUS)]),
    ("-1073741681", [(-1073741681, Hint.NTSTATUS)]),
    ("407", [(407, Hint.NONE)]),
    ("Reason: '1328'", [(1328, Hint.PTA_REASON)]),
    ("Sub Status: 0xC000006A", [(0xC000006A, Hint.NTSTATUS)]),
    ("Failure Code: 0x18", [(0x18, Hint.KERBEROS)]),
    ("net helpmsg 1328", [(1328, Hint.WIN32)]),
    ("win32:403", [(403, Hint.WIN32)]),
    ("http:403", [(403, Hint.HTTP)]),
    ("kerberos:0x18", [(0x18, Hint.KERBEROS)]),
    ("error code 1909 while signing in", [(1909, Hint.NONE)]),
    ("HTTP/1.1 407 Proxy Authentication Required", [(407, Hint.HTTP)]),
])
def test_codes_and_their_hints(text: str, expected: list[tuple[int, Hint]]) -> None:
    assert values(text) == expected


def test_pta_trace_line_yields_only_the_reason() -> None:
    """The TraceListener event id (Error: 0), the GUID, ThreadId and the DateTime placeholder are not codes."""
    assert values(TRACE_LINE) == [(1328, Hint.PTA_REASON)]


def test_invoke_webrequest_error_yields_only_the_http_status() -> None:
    assert values(IWR_407) == [(407, Hint.HTTP)]


def test_aadsts_message_ignores_trace_and_correlation_ids_and_timestamp() -> None:
    assert values(AADSTS_MESSAGE) == [(50126, Hint.AADSTS)]


def test_bare_numbers_without_context_in_longer_text_are_ignored() -> None:
    assert values("the server has 16 cores and 2019 was the year; port 443 and 10.0.0.1:8080") == []


def test_several_codes_in_order_of_appearance() -> None:
    text = "Reason: '1330' then AADSTS50144 and Status: 0xC0000071"
    assert values(text) == [(1330, Hint.PTA_REASON), (50144, Hint.AADSTS), (0xC0000071, Hint.NTSTATUS)]


def test_blank_noise_keeps_offsets() -> None:
    text = "at 2024-05-01T10:11:12Z id 0f4b5a36-3c1d-4b5e-9a33-1b2c3d4e5f60 from 10.1.2.3"
    blanked = blank_noise(text)
    assert len(blanked) == len(text)
    assert not any(ch.isdigit() for ch in blanked)


def test_binary_junk_and_huge_text_do_not_break_the_finder() -> None:
    junk = "".join(chr(c) for c in range(1, 0x2FF)) * 50
    assert isinstance(find_codes(junk), list)
    huge = ("x" * 100_000) + " Reason: '1909' " + ("y" * 100_000)
    assert values(huge) == [(1909, Hint.PTA_REASON)]
