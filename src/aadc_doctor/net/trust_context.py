"""The one way this tool builds a certificate-verifying TLS context: this machine's roots, judged as Windows does.

Why: Python 3.13 and later (the Windows release zip bundles 3.13) add ``VERIFY_X509_STRICT`` to
``ssl.create_default_context()``. That rejects CAs that Windows' own TLS stack (Schannel, CryptoAPI) accepts, for
example a root without an Authority Key Identifier: Samba's self-made CA and many private and TLS-inspection CAs.
The server's components verify with Windows' rules, so a stricter verdict here would report an 'untrusted' chain
the Entra Connect server itself trusts, a false finding. Found by the Windows lane (``ad logon`` under Wine).

3.13 also adds ``VERIFY_X509_PARTIAL_CHAIN``: the verified chain then ends at the first certificate found in the
store, and on Windows Python loads the intermediate store ("CA") as well as the roots. A Microsoft endpoint's chain
would end at its issuing CA, not at the Microsoft root, and `check` would call it TLS interception. Windows builds
chains to the self-signed root; so does this context. Found by the Windows lane (the demo's JSON).
"""

from __future__ import annotations

import ssl

# 0 on Pythons without the flags; both are in 3.13's default context
_NOT_AS_WINDOWS = getattr(ssl, "VERIFY_X509_STRICT", 0) | getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)


def system_trust_context(*extra_ca_files: str) -> ssl.SSLContext:
    """Verifying client context: the system store (the Windows store on Windows) plus `extra_ca_files`, with the
    chain rules Windows applies (no VERIFY_X509_STRICT, chains built to the root).

    Raises OSError/ssl.SSLError for an unusable file."""
    context = ssl.create_default_context()
    context.verify_flags &= ~_NOT_AS_WINDOWS
    for path in extra_ca_files:
        context.load_verify_locations(cafile=path)
    return context
