"""The endpoint catalog against the seed's minimum table and today's documentation (corpus)."""

from __future__ import annotations

import csv
import re

import pytest

from aadc_doctor.knowledge.endpoints import host_matches, load_catalog

SEED_MINIMUM_TABLE = [  # S1 "absolute bare minimum" table, verbatim rows
    ("mscrl.microsoft.com", 80), ("*.verisign.com", 80), ("*.entrust.com", 80),
    ("*.windows.net", 443), ("secure.aadcdn.microsoftonline-p.com", 443), ("*.microsoftonline.com", 443),
]


def test_every_seed_row_is_in_the_catalog():
    catalog = load_catalog()
    patterns = {(r.pattern, r.port) for r in catalog.rules}
    for row in SEED_MINIMUM_TABLE:
        assert row in patterns


def test_seed_only_rows_are_marked_and_point_at_their_replacements():
    catalog = load_catalog()
    entrust_com = catalog.by_id("crl-entrust-com")
    assert entrust_com.status == "seed" and not entrust_com.is_current
    assert catalog.by_id(entrust_com.replaced_by[0]).pattern == "*.entrust.net"
    windows_net = catalog.by_id("windows-net")
    assert {catalog.by_id(r).pattern for r in windows_net.replaced_by} >= {
        "*.management.core.windows.net", "*.graph.windows.net"}


def test_every_current_documented_endpoint_is_covered(corpus):
    catalog = load_catalog()
    with open(corpus / "reference" / "endpoints.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for row in rows:
        host = row["host"]
        if host == "*":
            continue
        # the doc's "*.crl3.digicert.com" is malformed (azure-docs#84724): we encode the bare host
        concrete = re.sub(r"^\*\.", "", host) if host.count(".") > 2 and host.startswith("*.") else host
        probe = concrete.replace("*.", "probe.")
        assert catalog.match(probe, int(row["port"])), f"{host}:{row['port']} not covered"


def test_profiles_and_probe_urls():
    catalog = load_catalog()
    sync = catalog.for_profiles(["sync"])
    assert all(r.is_current for r in sync)
    urls = [u for r in sync for u in r.urls_to_probe()]
    assert "https://adminwebservice.microsoftonline.com/ProvisioningService.svc" in urls
    assert any(u.startswith("http://mscrl.microsoft.com/") and u.endswith(".crl") for u in urls)
    pta_patterns = {r.pattern for r in catalog.for_profiles(["pta"])}
    assert {"*.msappproxy.net", "*.servicebus.windows.net"} <= pta_patterns
    assert len(catalog.for_profiles(["all"])) > len(sync)
    with pytest.raises(ValueError):
        catalog.for_profiles(["nonsense"])


def test_tenant_probe_urls_need_a_tenant():
    rule = load_catalog().by_id("msappproxy")
    assert not any("{" in u for u in rule.urls_to_probe())
    assert "https://t1.registration.msappproxy.net/register/RegisterConnector" in rule.urls_to_probe("t1")


def test_wildcards_match_subdomains_only_and_ignorables():
    assert host_matches("*.microsoftonline.com", "bba800-anchor.microsoftonline.com")
    assert not host_matches("*.microsoftonline.com", "microsoftonline.com")
    assert not host_matches("*.microsoftonline.com", "evilmicrosoftonline.com")
    catalog = load_catalog()
    assert catalog.ignorable_reason("dc.services.visualstudio.com") is not None
    assert catalog.ignorable_reason("x.y.nsatc.net") is not None
    assert catalog.ignorable_reason("login.microsoftonline.com") is None
    assert catalog.match("login.microsoftonline.com", 443)[0].pattern == "login.microsoftonline.com"
