"""Fuzz the secret scrubber: no registered secret survives in any form, JSON stays valid, time stays linear.

Issue 17, items 4 and 7. Forms are computed by the canary scanner (tests/infra/secret_scan.py), not by the
code under test.
"""

from __future__ import annotations

import json
import time

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings
from tests.infra.secret_scan import Planted, forms_of, scan

from aadc_doctor.model import Report
from aadc_doctor.render.json_report import report_to_json
from aadc_doctor.secrets import forgotten_afterwards, register_secret, register_url_credentials, scrub, secret_spans

# secrets from characters that make encodings differ (no "*": the redaction marker itself)
SECRET_ALPHABET = st.characters(blacklist_characters="*", blacklist_categories=("Cs",))
secrets_ = st.text(SECRET_ALPHABET, min_size=6, max_size=40).filter(lambda s: s.strip() == s and len(s.strip()) >= 6)
users = st.text(st.characters(whitelist_categories=("L", "Nd"), whitelist_characters="\\.-_"), min_size=1,
                max_size=12)
HOSTILE_PIECES = ["://", "@", ":", "/", "eyJ", ".", "-", "=", ";", "\"", "\\", " ", "\n", "Authorization: Basic ",
                  "Proxy-Authorization:", "http://", "u:p@h:8080", "İ", "%40", "\x1b[31m", "[/]"]
fillers = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(HOSTILE_PIECES)),
                   max_size=20).map("".join)


@st.composite
def texts_with_secret(draw: st.DrawFn) -> tuple[Planted, str]:
    secret, user = draw(secrets_), draw(users)
    planted = Planted(secret, (user,))
    forms = sorted(forms_of(planted))
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(fillers))
        parts.append(draw(st.sampled_from(forms)))
    parts.append(draw(fillers))
    return planted, "".join(parts)


@fuzz_settings("secrets.scrub", 2000)
@given(texts_with_secret())
def test_no_form_of_a_registered_secret_survives_scrub(case: tuple[Planted, str]) -> None:
    planted, text = case
    with forgotten_afterwards():
        register_secret(planted.secret, user=planted.users[0])
        assert not scan([planted], [("scrubbed", scrub(text))])


@fuzz_settings("secrets.scrub-url", 400)
@given(users, secrets_, fillers, st.sampled_from(["http://", "https://", "", "socks5://"]),
       st.sampled_from(["proxy.corp:8080", "[::1]:3128", "10.0.0.1:80", "[bad", "host:80x80"]))
def test_a_password_registered_from_a_proxy_url_never_survives(user: str, password: str, filler: str, scheme: str,
                                                               host: str) -> None:
    from urllib.parse import quote

    raw_is_possible = not any(c.isspace() or c in ";,\"'" for c in password)  # else only its encoding is a URL
    for written in ([password] if raw_is_possible else []) + [quote(password, safe="")]:
        url = f"{scheme}{quote(user, safe='')}:{written}@{host}"
        with forgotten_afterwards():
            register_url_credentials(url)
            planted = Planted(password, (user,))
            assert not scan([planted], [("scrubbed", scrub(f"{filler} {url} {filler}"))])


@fuzz_settings("secrets.scrub-json", 600)
@given(st.lists(texts_with_secret(), min_size=1, max_size=3), st.recursive(
    st.text(max_size=20), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=6))
def test_a_scrubbed_json_report_stays_valid_json(cases: list[tuple[Planted, str]], other: object) -> None:
    with forgotten_afterwards():
        for planted, _ in cases:
            register_secret(planted.secret, user=planted.users[0])
        report = Report(command="fuzz", results={"values": [text for _, text in cases], "other": other})
        text = report_to_json(report)
        decoded = json.loads(text)  # never broken by a redaction
        assert not scan([p for p, _ in cases], [("json", text), ("decoded", json.dumps(decoded, ensure_ascii=False))])


LINEAR_PIECES = [*HOSTILE_PIECES, "a", "1", "x=", "eyJaaaaaaaaaa.", "aaaaaaaa.", "@h:1", ":8", "hunter2hunter"]


@fuzz_settings("secrets.scrub-linear", 150)
@given(st.lists(st.sampled_from(LINEAR_PIECES), min_size=1, max_size=5))
def test_scrub_is_linear_on_repeated_hostile_text(unit: list[str]) -> None:
    """64 KB of any repetition in well under a second (a pattern retried from every position takes minutes)."""
    piece = "".join(unit)
    text = piece * (65536 // len(piece) + 1)
    with forgotten_afterwards():
        register_secret("hunter2hunter2", user="bob")
        started = time.perf_counter()
        secret_spans(text)
        elapsed = time.perf_counter() - started
    assert elapsed < 1.0, (piece, elapsed)
