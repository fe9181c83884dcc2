"""Finding the real system components the integration tests run (squid, dnsmasq, htpasswd, ...).

A missing component is a hard failure with an install hint, never a skip: CI must prove the real thing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INSTALL_HINT = "install with: bash scripts/install-system-deps.sh (as root, or with sudo)"

# Non-root shells often lack the sbin directories; Debian puts squid and dnsmasq there.
_EXTRA_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")

SQUID_HELPER_DIRS = ("/usr/lib/squid", "/usr/lib64/squid", "/usr/libexec/squid")


class ComponentMissing(RuntimeError):
    """A real component the integration tests need is not installed."""


def find_tool(name: str) -> str:
    """Absolute path of executable `name`, or raise ComponentMissing with the install hint."""
    found = shutil.which(name)
    if found:
        return found
    for directory in _EXTRA_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ComponentMissing(f"'{name}' is not installed but the integration tests need it; {INSTALL_HINT}")


def find_squid_helper(name: str) -> str:
    """Absolute path of a squid auth helper such as basic_ncsa_auth or ntlm_fake_auth."""
    for directory in SQUID_HELPER_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ComponentMissing(f"squid helper '{name}' not found in {', '.join(SQUID_HELPER_DIRS)}; {INSTALL_HINT}")


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
