"""The finding catalog (knowledge/findings.py): every template renders, with one formatting policy."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from aadc_doctor.knowledge import read_toml
from aadc_doctor.knowledge.findings import (
    TEXT,
    VARIANT_IDS,
    FindingTemplate,
    check_unique_ids,
    id_pattern,
    load_prefixed_templates,
    placeholders,
    run_findings,
)
from aadc_doctor.model import Severity


def every_template() -> list[tuple[str, FindingTemplate]]:
    """Every finding template of the catalog, named by file and section: what the catalog test renders."""
    from aadc_doctor.account.checks import _templates as account_templates
    from aadc_doctor.analysis.proxy_audit import _finding_templates, _problem_templates
    from aadc_doctor.analysis.pta import pta_finding_templates
    from aadc_doctor.knowledge.ad import templates as ad_templates
    from aadc_doctor.knowledge.connectivity_findings import load_connectivity_knowledge
    from aadc_doctor.knowledge.dns_findings import load_dns_knowledge

    kb = load_connectivity_knowledge()
    dns = load_dns_knowledge()
    groups: dict[str, Mapping[str, FindingTemplate]] = {
        "connectivity_findings.toml [outcome]": kb.outcome, "connectivity_findings.toml [extra]": kb.extra,
        "connectivity_findings.toml [all]": kb.all_failed, "dns_findings.toml [cause]": dns.cause,
        "dns_findings.toml [all]": dns.all_failed, "proxy_findings.toml [finding]": _finding_templates(),
        "proxy_findings.toml [problem]": _problem_templates(), "account_errors.toml [finding]": account_templates(),
        "proxylog_findings.toml [finding]": load_prefixed_templates("proxylog_findings.toml", "finding", "proxylog-"),
        "run_findings.toml [finding]": run_findings(),
        "cloudsync.toml [finding_texts]": load_prefixed_templates("cloudsync.toml", "finding_texts", ""),
        "server_rules.toml": _server_rule_templates(),
        "pta_findings.toml [finding]": pta_finding_templates(),
        **{f"ad_findings.toml [{section}]": ad_templates(section) for section in ("dcs", "logon", "sso")},
    }
    return [(f"{where} {key}", template) for where, table in groups.items() for key, template in table.items()]


def _server_rule_templates() -> dict[str, FindingTemplate]:
    from aadc_doctor.analysis.server_rules import _template
    from aadc_doctor.knowledge.server_rules import load_server_rules

    rules = load_server_rules()
    data = read_toml("server_rules.toml")
    out = {f"[tls.findings] {k}": _template(k, spec, ()) for k, spec in rules.tls.findings.items()}
    out.update({f"[service_findings] {k}": _template(k, spec, ()) for k, spec in data["service_findings"].items()})
    out.update({f"[other_findings] {k}": _template(k, spec, ()) for k, spec in data["other_findings"].items()})
    for rule in rules.deadlines:
        for title in (rule.title_before, rule.title_after):
            out[f"[[deadline]] {rule.id} {title[:20]}"] = FindingTemplate(rule.id, Severity.WARNING, title,
                                                                        rule.detail, rule.remedy, (), lenient=False)
    return out


CATALOG = every_template()


@pytest.mark.parametrize(("where", "template"), CATALOG, ids=[w for w, _ in CATALOG])
def test_every_template_renders_completely(where: str, template: FindingTemplate) -> None:
    values = {name: 2 for name in template.placeholders}  # a number: plural forms need one
    finding = template.render("subject", **values)
    for text in (finding.title, finding.detail, finding.remedy):
        assert "{" not in text and "}" not in text, (where, text)
    assert finding.title.strip() and finding.id and isinstance(finding.severity, Severity)
    assert all(ref.strip() for ref in finding.references), (where, finding.references)  # a URL or a seed section


def test_a_strict_template_refuses_a_missing_placeholder() -> None:
    strict = next(t for _, t in CATALOG if not t.lenient and t.placeholders)
    with pytest.raises(KeyError):
        strict.render("subject")


def test_the_catalog_covers_every_finding_file() -> None:
    files = {where.split(" ")[0] for where, _ in CATALOG}
    assert files == {"connectivity_findings.toml", "dns_findings.toml", "proxy_findings.toml", "account_errors.toml",
                     "proxylog_findings.toml", "ad_findings.toml", "pta_findings.toml", "run_findings.toml",
                     "cloudsync.toml", "server_rules.toml"}


@pytest.mark.parametrize(("spec", "text"), [("{n:~line~lines}", ("1 line", "3 lines")),
                                             ("{n:?was?were}", ("was", "were"))])
def test_plural_forms(spec: str, text: tuple[str, str]) -> None:
    assert (TEXT.format(spec, n=1), TEXT.format(spec, n=3)) == text


@pytest.mark.parametrize("bad", ["{unclosed", "{n:~line}", "{0}", "{a.b}"])
def test_a_malformed_placeholder_fails_at_load(bad: str) -> None:
    with pytest.raises(ValueError):
        placeholders(bad)


def _one_per_template() -> list[tuple[str, FindingTemplate]]:
    """The catalog with each deadline once (its two titles, before and after the date, are one template)."""
    seen: set[str] = set()
    out = []
    for where, template in CATALOG:
        if "[[deadline]]" in where:
            if template.id in seen:
                continue
            seen.add(template.id)
        out.append((where, template))
    return out


def test_no_two_templates_of_the_whole_catalog_share_an_id() -> None:
    check_unique_ids(_one_per_template())


def test_every_declared_variant_id_is_still_shared() -> None:
    """A variant left alone (its sibling renamed or removed) would keep a stale exception to the rule."""
    counts = {finding_id: sum(1 for _, t in _one_per_template() if t.id == finding_id) for finding_id in VARIANT_IDS}
    assert {finding_id for finding_id, n in counts.items() if n < 2} == set()


def test_an_id_declared_twice_is_refused_naming_both_places(monkeypatch: pytest.MonkeyPatch) -> None:
    from aadc_doctor.knowledge import findings

    one = FindingTemplate("proxy-dns-confused", Severity.ERROR, "t", "d", "r", ())
    with pytest.raises(ValueError, match=r"'proxy-dns-confused' \(a\.toml \[x\], b\.toml \[y\]\)"):
        check_unique_ids([("a.toml [x]", one), ("b.toml [y]", one)])
    # at load: a table whose templates share an id (not a declared variant) is refused
    data = {"references": {}, "cause": {"a": {"id": "same", "severity": "info", "title": "A"},
                                        "b": {"id": "same", "severity": "info", "title": "B"}}}
    monkeypatch.setattr(findings, "read_toml", lambda _name: data)
    with pytest.raises(ValueError, match=r"'same' \(x\.toml \[cause\.a\], x\.toml \[cause\.b\]\)"):
        findings.load_finding_templates("x.toml", "cause")


def _emitted_ids(node: object) -> set[str]:
    if isinstance(node, dict):
        own = {node["id"]} if {"id", "severity", "title"} <= node.keys() else set()
        return own.union(*(_emitted_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_emitted_ids(v) for v in node))
    return set()


def test_every_finding_of_the_golden_runs_and_the_demo_has_a_catalog_id() -> None:
    """Every command on fixed inputs (tests/golden, the demo's scenarios and their judged reports included): each
    finding id it reports is a catalog template's (pta-reason-{code} standing for every code)."""
    import json

    from tests.golden.cases import GOLDEN

    from aadc_doctor.analysis.provisioning_agent import _kebab
    from aadc_doctor.knowledge.cloudsync import load_cloudsync

    patterns = [id_pattern(t.id) for _, t in CATALOG]
    # a Cloud Sync error's finding: the [finding_texts.known-error] text under the error's own id
    patterns += [id_pattern(f"provisioning-{_kebab(e.code)}") for e in load_cloudsync().errors]
    emitted = set().union(*(_emitted_ids(json.loads(path.read_text("utf-8"))) for path in GOLDEN.glob("*.json")))
    assert len(emitted) > 40 and "pta-reason-1326" in emitted
    assert sorted(i for i in emitted if not any(p.fullmatch(i) for p in patterns)) == []
