"""The ``<system.net><defaultProxy>`` section of a .NET Framework configuration file, as .NET reads it.

machine.config and every ``<app>.exe.config`` share one schema; .NET merges them (the application file
overrides the attributes it sets and edits the inherited bypass list). Files are parsed with defusedxml:
a DTD (and with it every entity, so an XML bomb or an external entity) is refused before expansion, and
malformed XML is one line naming the file, line and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.sax import SAXException, SAXParseException
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl, Locator

from aadc_doctor.errors import InputError
from aadc_doctor.proxyconfig.bypass import BypassSyntax
from aadc_doctor.proxyconfig.model import ProxyConfig
from aadc_doctor.secrets import register_url_credentials

MAX_CONFIG_BYTES = 16 * 1024 * 1024

_SECTION_ATTRS = ("configSource", "lockAttributes", "lockAllAttributesExcept", "lockElements",
                  "lockAllElementsExcept", "lockItem")
KNOWN_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "defaultProxy": ("enabled", "useDefaultCredentials", *_SECTION_ATTRS),
    "proxy": ("usesystemdefault", "proxyaddress", "bypassonlocal", "scriptLocation", "autoDetect", "lockItem"),
    "bypasslist": ("lockItem", "lockElements"),
    "add": ("address", "lockItem"),
    "remove": ("address",),
    "clear": (),
    "module": ("type", "lockItem"),
}
KNOWN_CHILDREN: dict[str, tuple[str, ...]] = {
    "defaultProxy": ("proxy", "bypasslist", "module"),
    "bypasslist": ("add", "remove", "clear"),
}
BOOLEAN_ATTRIBUTES = {("defaultProxy", "enabled"), ("defaultProxy", "useDefaultCredentials")}
TRISTATE_ATTRIBUTES = {("proxy", "usesystemdefault"), ("proxy", "bypassonlocal"), ("proxy", "autoDetect")}

ProblemKind = Literal["unrecognized-element", "unrecognized-attribute", "invalid-value", "duplicate-section",
                      "misplaced-section", "external-config-source"]


@dataclass(frozen=True)
class ConfigProblem:
    """Well-formed XML that .NET still rejects or ignores (it fails to read the whole configuration)."""

    kind: ProblemKind
    line: int
    message: str


@dataclass(frozen=True)
class BypassOp:
    """One ``<add>``, ``<remove>`` or ``<clear>`` of ``<bypasslist>``, in file order."""

    op: Literal["add", "remove", "clear"]
    address: str
    line: int


@dataclass(frozen=True)
class DefaultProxyElement:
    """``<defaultProxy>`` as written in one file (attributes not written are inherited, not defaulted)."""

    line: int
    attrs: tuple[tuple[str, str], ...] = ()
    proxy_attrs: tuple[tuple[str, str], ...] | None = None
    proxy_line: int | None = None
    bypass_ops: tuple[BypassOp, ...] = ()
    module_type: str | None = None

    def attr(self, name: str) -> str | None:
        return dict(self.attrs).get(name)

    def proxy_attr(self, name: str) -> str | None:
        return dict(self.proxy_attrs or ()).get(name)


@dataclass(frozen=True)
class ConfigFile:
    """What one .NET configuration file says about the proxy."""

    path: str
    default_proxy: DefaultProxyElement | None
    system_net_lines: tuple[int, ...] = ()
    problems: tuple[ConfigProblem, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.path.replace("\\", "/")).name


def parse_bool(value: str | None) -> bool | None:
    """.NET's Boolean.Parse: ``true``/``false`` in any case, spaces ignored; None when absent, invalid or
    ``unspecified`` (the third value of ``usesystemdefault``, ``bypassonlocal`` and ``autoDetect``)."""
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def valid_tristate(value: str) -> bool:
    return value.strip().lower() in ("true", "false", "unspecified")


_BYPASS_OPS: dict[str, Literal["add", "remove", "clear"]] = {"add": "add", "remove": "remove", "clear": "clear"}


@dataclass
class _SectionBuilder:
    """The ``<defaultProxy>`` being read (mutable while its children stream past)."""

    line: int
    attrs: tuple[tuple[str, str], ...]
    ops: list[BypassOp] = field(default_factory=list)
    proxy: tuple[tuple[str, str], ...] | None = None
    proxy_line: int | None = None
    module: str | None = None

    def build(self) -> DefaultProxyElement:
        return DefaultProxyElement(line=self.line, attrs=self.attrs, proxy_attrs=self.proxy,
                                   proxy_line=self.proxy_line, bypass_ops=tuple(self.ops), module_type=self.module)


class _Handler(ContentHandler):
    """Collects /configuration/system.net/defaultProxy with line numbers; ignores everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.locator: Locator | None = None
        self.stack: list[str] = []
        self.root: str | None = None
        self.system_net_lines: list[int] = []
        self.problems: list[ConfigProblem] = []
        self.sections: list[DefaultProxyElement] = []
        self._current: _SectionBuilder | None = None

    def setDocumentLocator(self, locator: Locator) -> None:
        self.locator = locator

    @property
    def line(self) -> int:
        return (self.locator.getLineNumber() or 0) if self.locator is not None else 0

    def _problem(self, kind: ProblemKind, message: str) -> None:
        self.problems.append(ConfigProblem(kind, self.line, message))

    def _check_attributes(self, element: str, attrs: dict[str, str]) -> None:
        known = KNOWN_ATTRIBUTES.get(element, ())
        for name, value in attrs.items():
            if name.startswith("xmlns"):
                continue
            if name not in known:
                hint = next((k for k in known if k.lower() == name.lower()), None)
                suffix = f" (did you mean '{hint}'?)" if hint else ""
                self._problem("unrecognized-attribute",
                              f"Unrecognized attribute '{name}' on <{element}>. Note that attribute names are "
                              f"case-sensitive{suffix}")
            elif (element, name) in BOOLEAN_ATTRIBUTES and parse_bool(value) is None:
                self._problem("invalid-value", f"<{element} {name}=\"{value}\">: must be true or false")
            elif (element, name) in TRISTATE_ATTRIBUTES and not valid_tristate(value):
                self._problem("invalid-value", f"<{element} {name}=\"{value}\">: must be true, false or unspecified")

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        parent = self.stack[-1] if self.stack else None
        path = "/".join([*self.stack, name])
        attr_map = {k: attrs.getValue(k) for k in attrs.getNames()}
        self.stack.append(name)
        if parent is None:
            self.root = name
            return
        if name == "system.net":
            if path == "configuration/system.net":
                self.system_net_lines.append(self.line)
            elif not path.startswith("configuration/location/"):
                self._problem("misplaced-section", f"<system.net> at {path.replace('/', ' > ')} is ignored by .NET: "
                              "it must be a direct child of <configuration>")
            return
        if parent == "system.net" and name != "defaultProxy" and name.lower() == "defaultproxy":
            self._problem("unrecognized-element", f"Unrecognized element '{name}' (element names are case-sensitive: "
                          "write <defaultProxy>)")
            return
        if name == "defaultProxy":
            if parent != "system.net":
                self._problem("misplaced-section", f"<defaultProxy> at {path.replace('/', ' > ')} is ignored: "
                              "it must be inside <system.net>")
                return
            if path != "configuration/system.net/defaultProxy":
                return  # in a misplaced <system.net> (reported) or scoped to a <location> path
            if self.sections:
                self._problem("duplicate-section", "Sections must only appear once per config file: a second "
                              f"<defaultProxy> (the first is on line {self.sections[0].line})")
            self._check_attributes(name, attr_map)
            if "configSource" in attr_map:
                self._problem("external-config-source", f"<defaultProxy configSource=\"{attr_map['configSource']}\">: "
                              "the settings live in that file, which was not read")
            self._current = _SectionBuilder(self.line, tuple(attr_map.items()))
            return
        if self._current is None or "defaultProxy" not in self.stack[:-1]:
            return
        if parent in KNOWN_CHILDREN and name not in KNOWN_CHILDREN[parent]:
            self._problem("unrecognized-element", f"Unrecognized element '{name}' inside <{parent}>")
            return
        self._check_attributes(name, attr_map)
        if parent == "defaultProxy" and name == "proxy":
            for value in attr_map.values():  # proxyaddress="user:password@host:port", a scriptLocation URL
                register_url_credentials(value)
            self._current.proxy = tuple(attr_map.items())
            self._current.proxy_line = self.line
        elif parent == "defaultProxy" and name == "module":
            self._current.module = attr_map.get("type", "")
        elif parent == "bypasslist" and name in ("add", "remove", "clear"):
            self._current.ops.append(BypassOp(_BYPASS_OPS[name], attr_map.get("address", ""), self.line))

    def endElement(self, name: str) -> None:
        self.stack.pop()
        if name == "defaultProxy" and self._current is not None and self.stack and self.stack[-1] == "system.net":
            builder, self._current = self._current, None
            if not self.sections:  # a duplicate is reported, not used
                self.sections.append(builder.build())


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _is_utf8_or_utf16(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_config_bytes(data: bytes, name: str) -> ConfigFile:
    """Parse a .NET configuration file's bytes; every way it can be unreadable is an InputError naming it."""
    import defusedxml.sax
    from defusedxml import DefusedXmlException

    if not data.strip():
        raise InputError(f"{name}: the file is empty; a .NET configuration file starts with <configuration>")
    handler = _Handler()
    try:
        defusedxml.sax.parseString(data, handler, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except SAXParseException as exc:
        message = exc.getMessage()
        hint = ""
        if message == "junk after document element":
            hint = " (text after </configuration>: the <system.net> section must go inside <configuration>)"
        elif message.startswith("not well-formed (invalid token)") and not _is_utf8_or_utf16(data):
            hint = (" (the file is not UTF-8: probably saved as ANSI by an editor; .NET cannot read it either, "
                    "'Invalid character in the given encoding': save it as UTF-8)")
        elif message == "encoding specified in XML declaration is incorrect":
            hint = (" (the <?xml ... encoding=?> declaration does not match how the file is saved; .NET cannot read "
                    "it either, 'There is no Unicode byte order mark. Cannot switch to Unicode.': fix the declaration "
                    "or save the file again in that encoding)")
        column = (exc.getColumnNumber() or 0) + 1
        where = f"line {exc.getLineNumber()}, column {column}"
        raise InputError(f"{name}: malformed XML at {where}: {message}{hint}") from None
    except DefusedXmlException as exc:
        raise InputError(f"{name}: refused at line {handler.line}: the file declares a DTD or entities "
                         f"({type(exc).__name__}); a .NET configuration file has none, and entity expansion "
                         "(an XML bomb) or external entities are never processed") from None
    except LookupError as exc:  # <?xml encoding="..."?> names an encoding Python does not know
        raise InputError(f"{name}: cannot be read as XML: {exc}") from None
    except (ValueError, UnicodeError, SAXException) as exc:
        raise InputError(f"{name}: cannot be read as XML: {_one_line(str(exc))}") from None
    if handler.root != "configuration":
        raise InputError(f"{name}: not a .NET configuration file (the root element is <{handler.root}>, "
                         "expected <configuration>)")
    return ConfigFile(
        path=name,
        default_proxy=handler.sections[0] if handler.sections else None,
        system_net_lines=tuple(handler.system_net_lines),
        problems=tuple(handler.problems),
    )


def read_config_file(path: str | Path) -> ConfigFile:
    """Read machine.config or an .exe.config from disk (never modified)."""
    name = str(path)
    if Path(path).is_dir():  # Windows raises PermissionError, not IsADirectoryError, for a directory
        raise InputError(f"{name}: is a directory, not a configuration file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{name}: larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; not a configuration file")
    return parse_config_bytes(data, name)


@dataclass(frozen=True)
class DotNetProxySettings:
    """The merged ``<defaultProxy>`` a .NET process ends up with (machine.config, then its .exe.config)."""

    files: tuple[str, ...] = ()
    declared_in: tuple[str, ...] = ()
    line: int | None = None
    enabled: bool = True
    use_default_credentials: bool = False
    use_system_default: bool | None = None
    proxy_address: str | None = None
    bypass_on_local: bool | None = None
    auto_detect: bool | None = None
    script_location: str | None = None
    bypass: tuple[str, ...] = field(default=())
    module_type: str | None = None

    @property
    def declared(self) -> bool:
        return bool(self.declared_in)

    @property
    def uses_system_settings(self) -> bool:
        """No proxy address of its own: .NET falls back to the Internet Explorer settings of the process's account."""
        if not self.enabled or self.proxy_address or self.module_type:
            return False
        return self.use_system_default is not False

    def to_proxy_config(self, source: str) -> ProxyConfig:
        notes: list[str] = []
        if not self.enabled:
            notes.append('defaultProxy enabled="false": every request goes direct')
        elif self.uses_system_settings:
            notes.append("no proxyaddress: .NET uses the Internet Explorer (WinINET) settings of the account the "
                         "process runs as, which this tool cannot see from a file")
        if self.script_location and self.enabled:
            notes.append(f"scriptLocation {self.script_location}: a PAC script (pass it with --pac to evaluate it)")
        if self.auto_detect and self.enabled:
            notes.append('autoDetect="true": WPAD discovery may choose a different proxy')
        if self.module_type and self.enabled:
            notes.append(f"custom proxy module {self.module_type}")
        url = self.proxy_address if self.enabled else None
        return ProxyConfig(
            source=source, url=url, bypass=self.bypass if self.enabled else (),
            bypass_on_local=bool(self.bypass_on_local) and self.enabled,
            use_default_credentials=self.use_default_credentials and self.enabled,
            bypass_syntax=BypassSyntax.DOTNET_REGEX, notes=tuple(notes),
        )


def resolve_default_proxy(files: Sequence[ConfigFile]) -> DotNetProxySettings:
    """Merge files in .NET's order (machine.config first): set attributes override, bypass ops apply in order."""
    values: dict[str, str] = {}
    proxy_values: dict[str, str] = {}
    bypass: dict[str, None] = {}  # an ordered set: 200,000 <add> entries must not cost a list scan each
    module: str | None = None
    declared: list[str] = []
    line: int | None = None
    for cfg in files:
        element = cfg.default_proxy
        if element is None:
            continue
        declared.append(cfg.path)
        line = element.line
        values.update(element.attrs)
        proxy_values.update(element.proxy_attrs or ())
        if element.module_type is not None:
            module = element.module_type
        for op in element.bypass_ops:
            if op.op == "clear":
                bypass.clear()
            elif op.op == "remove":
                bypass.pop(op.address, None)
            elif op.address:
                bypass.setdefault(op.address, None)
    enabled = parse_bool(values.get("enabled"))
    address = (proxy_values.get("proxyaddress") or "").strip() or None
    return DotNetProxySettings(
        files=tuple(c.path for c in files),
        declared_in=tuple(declared),
        line=line,
        enabled=True if enabled is None else enabled,
        use_default_credentials=bool(parse_bool(values.get("useDefaultCredentials"))),
        use_system_default=parse_bool(proxy_values.get("usesystemdefault")),
        proxy_address=address,
        bypass_on_local=parse_bool(proxy_values.get("bypassonlocal")),
        auto_detect=parse_bool(proxy_values.get("autoDetect")),
        script_location=(proxy_values.get("scriptLocation") or "").strip() or None,
        bypass=tuple(bypass),
        module_type=module or None,
    )
