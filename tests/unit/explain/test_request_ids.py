"""The ids of a pasted Entra ID error are kept: support and the sign-in log need them."""

from __future__ import annotations

from aadc_doctor.explain.request_ids import find_request_ids

TRACE = "0c5b4ae4-1b3a-4c8b-9d5e-7a1f2b3c4d00"
CORRELATION = "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809"


def test_the_message_tail() -> None:
    text = (f"AADSTS50126: Error validating credentials.\r\nTrace ID: {TRACE}\r\nCorrelation ID: {CORRELATION}\r\n"
            "Timestamp: 2024-03-01 10:22:33Z")
    assert find_request_ids(text) == {"correlation_id": CORRELATION, "trace_id": TRACE,
                                      "timestamp": "2024-03-01 10:22:33Z"}


def test_the_oauth_json_answer() -> None:
    text = (f'{{"error": "invalid_grant", "timestamp": "2024-03-01 10:22:33Z", "trace_id": "{TRACE}", '
            f'"correlation_id": "{CORRELATION}"}}')
    assert find_request_ids(text) == {"correlation_id": CORRELATION, "trace_id": TRACE,
                                      "timestamp": "2024-03-01 10:22:33Z"}


def test_nothing_without_the_labels() -> None:
    assert find_request_ids(f"RequestId: '{TRACE}'. Reason: '1328'. DateTime=2024-03-01T10:22:33Z") == {}
