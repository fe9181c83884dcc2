"""machine.config / .exe.config parsing: every fixture variant, hostile XML refused, .NET's merge order."""

from __future__ import annotations

from pathlib import Path

import pytest

from aadc_doctor.errors import ExitCode, InputError
from aadc_doctor.proxyconfig.dotnet_config import parse_config_bytes, read_config_file, resolve_default_proxy
from aadc_doctor.proxyconfig.machine_config import machine_config_proxy, read_machine_config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "machine_config"


def settings(name: str):  # type: ignore[no-untyped-def]
    return resolve_default_proxy([read_machine_config(FIXTURES / name)])


def test_valid_microsoft_snippet() -> None:
    cfg = read_machine_config(FIXTURES / "valid.config")
    assert cfg.default_proxy is not None
    assert cfg.default_proxy.line == 36
    assert cfg.problems == ()
    s = resolve_default_proxy([cfg])
    assert (s.enabled, s.proxy_address, s.use_system_default, s.bypass_on_local, s.use_default_credentials) == (
        True, "http://fabrikamproxy:8080", True, True, False)
    assert not s.uses_system_settings
    proxy = machine_config_proxy(cfg)
    assert proxy.source == f"machine.config:{FIXTURES / 'valid.config'}"
    assert proxy.proxy_for("https://login.microsoftonline.com/") == "http://fabrikamproxy:8080"
    assert proxy.proxy_for("http://intranet/") is None  # bypassonlocal


def test_utf8_bom_as_notepad_saves_it() -> None:
    assert settings("valid-bom.config").proxy_address == "http://fabrikamproxy:8080"


def test_stock_machine_config_has_no_default_proxy() -> None:
    cfg = read_machine_config(FIXTURES / "stock-no-proxy.config")
    assert cfg.default_proxy is None
    assert not resolve_default_proxy([cfg]).declared
    assert machine_config_proxy(cfg).is_direct


def test_disabled_sends_everything_direct() -> None:
    s = settings("disabled.config")
    assert s.enabled is False
    proxy = s.to_proxy_config("machine.config:x")
    assert proxy.proxy_for("https://login.microsoftonline.com/") is None
    assert any('enabled="false"' in note for note in proxy.notes)


def test_authenticated() -> None:
    s = settings("authenticated.config")
    assert s.use_default_credentials is True
    assert s.to_proxy_config("m").use_default_credentials is True


def test_bypass_list_entries_in_order_with_lines() -> None:
    cfg = read_machine_config(FIXTURES / "bypass-list.config")
    assert cfg.default_proxy is not None
    assert [(op.op, op.address) for op in cfg.default_proxy.bypass_ops] == [
        ("add", r"[a-z0-9-]+\.fabrikam\.local$"), ("add", r"192\.168\.\d{1,3}\.\d{1,3}"),
        ("add", r"microsoftonline\.com")]
    assert [op.line for op in cfg.default_proxy.bypass_ops] == [39, 40, 41]
    proxy = machine_config_proxy(cfg)
    assert proxy.proxy_for("https://login.microsoftonline.com/") is None
    assert proxy.proxy_for("https://graph.windows.net/") == "http://fabrikamproxy:8080"


def test_system_default_only_uses_ie_settings() -> None:
    s = settings("system-default-only.config")
    assert s.proxy_address is None and s.uses_system_settings


def test_case_error_is_reported_as_net_reports_it() -> None:
    cfg = read_machine_config(FIXTURES / "case-error.config")
    assert [p.kind for p in cfg.problems] == ["unrecognized-attribute"]
    assert "Unrecognized attribute 'proxyAddress'" in cfg.problems[0].message
    assert "did you mean 'proxyaddress'" in cfg.problems[0].message
    assert cfg.problems[0].line == 37  # the line of <proxy>, where expat reports the element


def test_duplicate_section() -> None:
    cfg = read_machine_config(FIXTURES / "duplicate-section.config")
    assert [p.kind for p in cfg.problems] == ["duplicate-section"]
    assert "Sections must only appear once per config file" in cfg.problems[0].message
    assert resolve_default_proxy([cfg]).proxy_address == "http://fabrikamproxy:8080"  # the first one


@pytest.mark.parametrize(("name", "expected"), [
    ("malformed.config", r"malformed XML at line 36, column 5: junk after document element \(text after "
                         r"</configuration>: the <system.net> section must go inside <configuration>\)"),
    ("truncated.config", r"malformed XML at line \d+, column \d+: (no element found|unclosed token)"),
    ("billion-laughs.config", r"refused at line 2: the file declares a DTD or entities \(DTDForbidden\)"),
    ("external-entity.config", r"refused at line 2: the file declares a DTD or entities \(DTDForbidden\)"),
])
def test_bad_files_are_one_line_input_errors_naming_file_and_line(name: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as info:
        read_machine_config(FIXTURES / name)
    assert info.value.exit_code is ExitCode.USAGE_OR_INPUT
    assert str(FIXTURES / name) in info.value.message
    assert "\n" not in info.value.message


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(InputError):
        read_machine_config(FIXTURES / "billion-laughs.config")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "the file is empty"),
    (b"\x00\x01\x02binary\xff\xfe junk", "malformed XML|cannot be read"),
    (b"<?xml version='1.0'?><root><system.net/></root>", r"not a .NET configuration file \(the root element is <root>"),
    ("<configuration/>".encode("utf-16"), ""),
])
def test_junk_input(data: bytes, expected: str) -> None:
    if not expected:
        assert parse_config_bytes(data, "x.config").default_proxy is None
        return
    with pytest.raises(InputError, match=expected):
        parse_config_bytes(data, "x.config")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_config_file(tmp_path / "nope.config")
    with pytest.raises(InputError, match="is a directory"):
        read_config_file(tmp_path)


def test_encoding_mistakes_say_what_happened_and_that_dotnet_fails_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: an ANSI-saved file or a wrong encoding declaration gave only expat's bare message."""
    valid = (FIXTURES / "valid.config").read_text(encoding="utf-8")
    ansi = valid.replace("<runtime/>", "<!-- modifié par l'équipe réseau --><runtime/>").encode("cp1252")
    with pytest.raises(InputError, match=r"not well-formed \(invalid token\) \(the file is not UTF-8: probably "
                                         r"saved as ANSI by an editor; \.NET cannot read it either, 'Invalid "
                                         r"character in the given encoding': save it as UTF-8\)$"):
        parse_config_bytes(ansi, "machine.config")
    declared_utf16 = valid.replace('encoding="UTF-8"', 'encoding="utf-16"').encode("utf-8")
    assert declared_utf16 != valid.encode("utf-8")
    with pytest.raises(InputError, match=r"encoding specified in XML declaration is incorrect \(the <\?xml \.\.\. "
                                         r"encoding=\?> declaration does not match how the file is saved; .*"
                                         r"Cannot switch to Unicode"):
        parse_config_bytes(declared_utf16, "machine.config")
    # a non-UTF-8 token error in a UTF-8 file gets no encoding hint
    with pytest.raises(InputError) as info:
        parse_config_bytes(b"<configuration><a b=1/></configuration>", "m.config")
    assert "ANSI" not in info.value.message


def test_directory_is_named_before_opening_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Regression: on Windows open() of a directory raises PermissionError, which read 'Permission denied'."""
    def windows_open(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", windows_open)
    with pytest.raises(InputError, match=r": is a directory, not a configuration file$"):
        read_config_file(tmp_path)


def test_misplaced_and_miscased_sections() -> None:
    data = b"""<configuration>
  <runtime><system.net><defaultProxy><proxy proxyaddress="http://p:1"/></defaultProxy></system.net></runtime>
  <system.net>
    <defaultproxy><proxy proxyaddress="http://p:2"/></defaultproxy>
  </system.net>
</configuration>"""
    cfg = parse_config_bytes(data, "m.config")
    assert [(p.kind, p.line) for p in cfg.problems] == [("misplaced-section", 2), ("unrecognized-element", 4)]
    assert cfg.default_proxy is None


def test_invalid_values_and_unknown_children() -> None:
    data = b"""<configuration><system.net>
<defaultProxy enabled="yes" useDefaultCredentials="True">
  <proxy usesystemdefault="maybe" proxyaddress="http://p:8080"/>
  <bypass><add address="x"/></bypass>
</defaultProxy></system.net></configuration>"""
    cfg = parse_config_bytes(data, "m.config")
    kinds = [(p.kind, p.line) for p in cfg.problems]
    assert kinds == [("invalid-value", 2), ("invalid-value", 3), ("unrecognized-element", 4)]
    s = resolve_default_proxy([cfg])
    assert s.use_default_credentials is True  # "True": .NET's Boolean.Parse ignores case


def test_exe_config_overrides_set_attributes_and_edits_inherited_bypass_list() -> None:
    machine = parse_config_bytes(b"""<configuration><system.net>
<defaultProxy useDefaultCredentials="true"><proxy proxyaddress="http://machine:8080" bypassonlocal="true"/>
<bypasslist><add address="a"/><add address="b"/></bypasslist></defaultProxy></system.net></configuration>""", "m")
    exe = parse_config_bytes(b"""<configuration><system.net>
<defaultProxy><proxy proxyaddress="http://agent:3128"/>
<bypasslist><remove address="a"/><add address="c"/></bypasslist></defaultProxy></system.net></configuration>""", "e")
    s = resolve_default_proxy([machine, exe])
    assert s.proxy_address == "http://agent:3128"
    assert s.use_default_credentials is True  # inherited: the exe.config does not set it
    assert s.bypass_on_local is True
    assert s.bypass == ("b", "c")
    assert s.declared_in == ("m", "e")
    cleared = parse_config_bytes(b"""<configuration><system.net><defaultProxy enabled="false">
<bypasslist><clear/></bypasslist></defaultProxy></system.net></configuration>""", "e2")
    s2 = resolve_default_proxy([machine, cleared])
    assert s2.enabled is False and s2.bypass == ()
    assert s2.to_proxy_config("x").is_direct


def test_location_scoped_section_is_not_the_default_proxy() -> None:
    cfg = parse_config_bytes(b"""<configuration><location path="app"><system.net>
<defaultProxy><proxy proxyaddress="http://p:1"/></defaultProxy></system.net></location></configuration>""", "m")
    assert cfg.default_proxy is None and cfg.problems == ()


def test_script_location_and_autodetect_become_notes() -> None:
    cfg = parse_config_bytes(b"""<configuration><system.net><defaultProxy>
<proxy usesystemdefault="false" scriptLocation="http://wpad/wpad.dat" autoDetect="true"/>
</defaultProxy></system.net></configuration>""", "m")
    proxy = resolve_default_proxy([cfg]).to_proxy_config("m")
    assert proxy.is_direct
    assert any("scriptLocation http://wpad/wpad.dat" in n for n in proxy.notes)
    assert any("autoDetect" in n for n in proxy.notes)


def test_every_truncation_and_random_corruption_is_parsed_or_refused_in_one_line() -> None:
    import random

    data = (FIXTURES / "authenticated.config").read_bytes()
    rng = random.Random(20260)
    candidates = [data[:cut] for cut in range(0, len(data), 7)]
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        candidates.append(bytes(corrupt))
    refused = 0
    for candidate in candidates:
        try:
            parse_config_bytes(candidate, "fuzz.config")
        except InputError as exc:
            refused += 1
            assert exc.message.startswith("fuzz.config: ") and "\n" not in exc.message
    assert refused > len(candidates) // 2  # most corruptions break the XML; none may escape as another exception
