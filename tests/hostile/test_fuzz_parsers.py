"""Issue 17: a hypothesis fuzz suite over the parsers of proxy settings and over `explain`, with fixed budgets.

Each parser may answer an input error (InputError/UsageError/ValueError where documented), never anything
else, and must stay fast on every input. Deterministic (derandomize=True, no example database) so CI runs the
same inputs every time; the budgets add up to 4,600 inputs across this file, in a few seconds.
"""

from __future__ import annotations

import contextlib
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from aadc_doctor.errors import InputError, UsageError
from aadc_doctor.explain.code_finder import find_codes
from aadc_doctor.explain.lookup import explain_all
from aadc_doctor.net.http_client import json_depth
from aadc_doctor.proxyconfig.bypass import (
    Target,
    compile_dotnet_list,
    is_dangerous_pattern,
    no_proxy_match,
    split_no_proxy,
    split_winhttp,
    winhttp_bypass_match,
)
from aadc_doctor.proxyconfig.dotnet_config import parse_config_bytes, resolve_default_proxy
from aadc_doctor.proxyconfig.environment import environment_proxy
from aadc_doctor.proxyconfig.pac_worker import _Engine
from aadc_doctor.proxyconfig.textfile import decode_text
from aadc_doctor.proxyconfig.winhttp import parse_winhttp_output

PER_PARSER = 10_000  # issue 17: at least 10,000 inputs per parser


def _budget(target: str, examples: int) -> settings:
    """The shared fuzz settings (tests/fuzz/budget.py: deterministic, AADC_FUZZ_SCALE, the budget report)."""
    return settings(fuzz_settings(target, examples), suppress_health_check=list(HealthCheck))


HOSTILE_TEXT = st.text(alphabet=st.sampled_from([*list("aA0²٣9x:/.;,* \t\n-+()[]{}|\\^$?<>!&\"'=%@#"), "\x00", "é"]),
                       max_size=300)
URLS = st.builds(lambda h, p: f"https://{h}:{p}/", st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True),
                 st.integers(1, 65535))


@_budget("explain", PER_PARSER)
@given(HOSTILE_TEXT)
def test_explain_any_text(text: str) -> None:
    started = time.monotonic()
    explain_all([text])
    find_codes(text * 5)  # repeated: a pattern that backtracks over runs shows here
    assert time.monotonic() - started < 2


@_budget("proxyconfig.dotnet_bypass", PER_PARSER)
@given(st.lists(HOSTILE_TEXT, max_size=8), URLS)
def test_dotnet_bypass_lists(entries: list[str], url: str) -> None:
    started = time.monotonic()
    compiled = compile_dotnet_list(tuple(entries))
    if not compiled.invalid:
        found = compiled.first_match(Target.from_url(url).dotnet_match_text)
        assert found is None or found in entries
    for entry in entries:
        is_dangerous_pattern(entry)
    assert time.monotonic() - started < 3


@_budget("proxyconfig.no_proxy_winhttp_bypass", PER_PARSER)
@given(HOSTILE_TEXT, URLS)
def test_no_proxy_and_winhttp_bypass(value: str, url: str) -> None:
    target = Target.from_url(url)
    no_proxy_match(split_no_proxy(value), target)
    winhttp_bypass_match(split_winhttp(value), target)


@_budget("proxyconfig.environment", PER_PARSER)
@given(st.dictionaries(st.sampled_from(["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "NO_PROXY", "no_proxy",
                                        "ALL_PROXY"]), HOSTILE_TEXT, max_size=4), URLS)
def test_environment_proxy_variables(env: dict[str, str], url: str) -> None:
    try:
        config = environment_proxy(env)
    except (InputError, UsageError):
        return
    if config is not None:
        with contextlib.suppress(InputError, UsageError):
            config.proxy_for(url)


WINHTTP_LINES = st.lists(st.one_of(
    HOSTILE_TEXT,
    st.builds(lambda v: f"    Proxy Server(s) :  {v}", HOSTILE_TEXT),
    st.builds(lambda v: f"    Bypass List     :  {v}", HOSTILE_TEXT),
    st.just("Current WinHTTP proxy settings:"), st.just("    Direct access (no proxy server)."),
    st.builds(lambda v: '{"ProxyIsEnabled": true, "Proxy": "' + v + '"}', HOSTILE_TEXT)), max_size=6)


@_budget("proxyconfig.winhttp", PER_PARSER)
@given(WINHTTP_LINES)
def test_netsh_winhttp_output(lines: list[str]) -> None:
    with contextlib.suppress(InputError):
        parse_winhttp_output("\n".join(lines), "netsh.txt")


CONFIG = st.builds(
    lambda proxy, adds, extra: (
        '<?xml version="1.0"?><configuration><system.net><defaultProxy ' + extra + '><proxy ' + proxy + '/>'
        "<bypasslist>" + "".join(f'<add address="{a}"/>' for a in adds) + "</bypasslist>"
        "</defaultProxy></system.net></configuration>").encode("utf-8", "surrogatepass"),
    st.builds(lambda k, v: f'{k}="{v}"', st.sampled_from(["proxyaddress", "usesystemdefault", "bypassonlocal",
                                                          "scriptLocation", "autoDetect"]),
              st.text(alphabet="aA0²:/.x\"<&-", max_size=40)),
    st.lists(st.text(alphabet="a0.\\*()+^$[]-", max_size=30), max_size=5),
    st.sampled_from(["", 'enabled="true"', 'enabled="false"', 'useDefaultCredentials="maybe"']))


@_budget("proxyconfig.dotnet_config", PER_PARSER)
@given(st.one_of(CONFIG, st.binary(max_size=400)))
def test_machine_config_and_exe_config(data: bytes) -> None:
    try:
        cfg = parse_config_bytes(data, "machine.config")
    except InputError:
        return
    resolve_default_proxy([cfg])


@_budget("proxyconfig.pac_result", PER_PARSER)
@given(st.one_of(HOSTILE_TEXT, st.lists(st.sampled_from(["PROXY", "SOCKS", "DIRECT", "HTTPS", "a:1", "²", ";", " ",
                                                         "[::1]:8", "x" * 300]), max_size=12).map("".join)))
def test_proxy_strings_returned_by_a_pac_script(value: str) -> None:
    engine = _ENGINE
    reply = engine.find("https://login.microsoftonline.com/", value)
    assert reply["ok"] or reply["kind"] in ("result", "runtime"), reply
    if reply["ok"]:
        assert all(isinstance(c, str) for c in reply["choices"])


@_budget("net.json_depth", PER_PARSER)
@given(st.text(alphabet='[]{}"\\ ,:a1', max_size=200))
def test_json_depth_never_recurses(text: str) -> None:
    assert json_depth(text.encode()) >= 0


PAC_TOKENS = ["function FindProxyForURL(url, host) {", "function FindProxyForURLEx(url, host) {", "}", "{", "(", ")",
              "return ", "'DIRECT'", "'PROXY p:8080; DIRECT'", "\"SOCKS s:1080\"", " + ", ";", "\n", "if (", "else ",
              "isInNet(host, '10.0.0.0', '255.0.0.0')", "dnsDomainIs(host, '.microsoftonline.com')",
              "shExpMatch(url, '*.msappproxy.net/*')", "isPlainHostName(host)", "myIpAddress()", "dnsResolve(host)",
              "host", "url", "null", "undefined", "1", "'²'", "[]", "{}", "var x = ", "x", "throw 'no';", "==", "!",
              "&&", "||", "weekdayRange('MON', 'FRI')", "timeRange(8, 18)", "convert_addr(host)", "alert('a')",
              "globalThis", "this.constructor", "Duktape", "require('fs')", "dukpy", "call_python('x')", "é", "\x00"]


@_budget("proxyconfig.pac_source", PER_PARSER)
@given(st.one_of(st.lists(st.sampled_from(PAC_TOKENS), max_size=30).map("".join), HOSTILE_TEXT))
def test_pac_source_text(source: str) -> None:
    """Any PAC source (no loops: a script that runs forever is the worker's time limit's case, tested apart): the
    engine answers ok or malformed, and a loaded script's answer is ok or a runtime/result error."""
    engine = _Engine()
    loaded = engine.load(source)
    assert loaded["ok"] or loaded["kind"] == "malformed", loaded
    if loaded["ok"]:
        reply = engine.find("https://login.microsoftonline.com/", "login.microsoftonline.com")
        assert reply["ok"] or reply["kind"] in ("result", "runtime"), reply


@_budget("proxyconfig.textfile", PER_PARSER)
@given(st.one_of(st.binary(max_size=300), st.builds(lambda bom, text, codec: bom + text.encode(codec, "replace"),
                                                      st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]),
                                                      st.text(max_size=100),
                                                      st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "cp1252"]))))
def test_pac_and_config_text_decoding(data: bytes) -> None:
    try:
        text = decode_text(data, name="proxy.pac", what="PAC file")
    except InputError as exc:
        assert "\n" not in exc.message
        return
    assert "\x00" not in text


_ENGINE = _Engine()
assert _ENGINE.load("function FindProxyForURL(url, host) { return host == '0.0.0.0' ? 'DIRECT' : host; }")["ok"]
