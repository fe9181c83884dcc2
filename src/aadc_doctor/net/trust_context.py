"""The one way this tool builds a certificate-verifying TLS context: this machine's roots, judged as Windows does.

Why: Python 3.13 and later (the Windows release zip bundles 3.13) add ``VERIFY_X509_STRICT`` to
``ssl.create_default_context()``. That rejects CAs that Windows' own TLS stack (Schannel, CryptoAPI) accepts, for
example a root without an Authority Key Identifier: Samba's self-made CA and many private and TLS-inspection CAs.
The server's components verify with Windows' rules, so a stricter verdict here would report an 'untrusted' chain
the Entra Connect server itself trusts, a false finding. Found by the Windows lane (``ad logon`` under Wine).
"""

from __future__ import annotations

import ssl

# 0 on Pythons without the flag (before 3.10 it did not exist; it was added to the default context in 3.13)
_STRICT = getattr(ssl, "VERIFY_X509_STRICT", 0)


def system_trust_context(*extra_ca_files: str) -> ssl.SSLContext:
    """Verifying client context: the system store (the Windows store on Windows) plus `extra_ca_files`, with the
    chain rules Windows applies (no VERIFY_X509_STRICT). Raises OSError/ssl.SSLError for an unusable file."""
    context = ssl.create_default_context()
    context.verify_flags &= ~_STRICT
    for path in extra_ca_files:
        context.load_verify_locations(cafile=path)
    return context
