"""The report envelope of DESIGN.md and severity ordering."""

from __future__ import annotations

import json

from aadc_doctor.model import Finding, Report, Severity
from aadc_doctor.render.json_report import report_to_json


def test_envelope_has_the_contract_fields_and_errors_first():
    report = Report(command="check", findings=[
        Finding("info-thing", Severity.INFO, "Info"),
        Finding("proxy-forbidden", Severity.ERROR, "Denied", subject="login.microsoftonline.com:443"),
    ], results={"endpoints": []})
    data = json.loads(report_to_json(report))
    assert data["schema_version"] == 1 and data["tool"] == "aadc-doctor" and data["command"] == "check"
    assert {"started_at", "finished_at", "tool_version", "results"} <= data.keys()
    assert [f["id"] for f in data["findings"]] == ["proxy-forbidden", "info-thing"]
    assert set(data["findings"][0]) == {"id", "severity", "title", "detail", "remedy", "subject", "references"}


def test_severity_threshold():
    report = Report(command="x", findings=[Finding("w", Severity.WARNING, "W")])
    assert report.has_finding_at_least(Severity.WARNING)
    assert not report.has_finding_at_least(Severity.ERROR)
    assert report.worst() is Severity.WARNING


def test_terminal_does_not_repeat_a_subject_the_title_already_names():
    import io

    from aadc_doctor.render.terminal import make_console, render_findings

    buf = io.StringIO()
    render_findings([
        Finding("proxy-forbidden", Severity.ERROR, "The proxy has not been opened for graph.windows.net",
                subject="graph.windows.net:443"),
        Finding("mfa-endpoint-unreachable", Severity.ERROR, "The MFA endpoint cannot be reached",
                subject="secure.aadcdn.microsoftonline-p.com:443"),
        Finding("x", Severity.INFO, "Restart ADSync", subject=r"C:\\Windows\\machine.config"),
    ], make_console(buf, {"NO_COLOR": "1"}))
    out = buf.getvalue()
    assert "(graph.windows.net:443)" not in out
    assert "(secure.aadcdn.microsoftonline-p.com:443)" in out
    assert r"(C:\\Windows\\machine.config)" in out
