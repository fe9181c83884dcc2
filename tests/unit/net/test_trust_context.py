"""The verifying TLS context judges a chain as Windows does: a certificate without Authority Key Identifier passes.

Python 3.13 (the Windows zip) puts VERIFY_X509_STRICT into ssl.create_default_context(); OpenSSL 3 then rejects
such chains (Samba's own, many private and inspection CAs) that Schannel accepts. The test makes the default strict
on any Python, then does a real handshake with a loopback server whose certificate has no AKI.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aadc_doctor.net import trust_context
from aadc_doctor.net.trust_context import system_trust_context

NAME = "dc1.contoso.test"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca_without_aki_and_leaf(folder: Path) -> tuple[Path, Path, Path]:
    """A root and a server certificate without Authority Key Identifier, as Samba's provisioning makes them."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Contoso Root")).issuer_name(_name("Contoso Root"))
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name(NAME)).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return ca_file, cert_file, key_file


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    ca_file, cert_file, key_file = _ca_without_aki_and_leaf(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield ca_file, listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    listener.close()


def _handshake(context: ssl.SSLContext, port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=NAME):
        pass


def test_a_chain_without_authority_key_identifier_is_trusted_even_when_the_default_is_strict(
        server: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    ca_file, port = server
    if not getattr(ssl, "VERIFY_X509_STRICT", 0):
        pytest.skip("this Python's ssl module has no VERIFY_X509_STRICT")
    default = ssl.create_default_context

    def strict_default(*args: object, **kwargs: object) -> ssl.SSLContext:  # what Python 3.13 returns
        context = default()
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context

    monkeypatch.setattr(trust_context.ssl, "create_default_context", strict_default)
    strict = strict_default()
    strict.load_verify_locations(cafile=str(ca_file))
    with pytest.raises(ssl.SSLCertVerificationError):  # the strict rules reject this CA: the test can fail
        _handshake(strict, port)
    _handshake(system_trust_context(str(ca_file)), port)  # Windows' rules: trusted


def _two_tier(folder: Path) -> tuple[Path, Path, Path]:
    """Root -> issuing CA -> server; returns (root + issuing CA in one trust file, server chain, server key)."""
    now = datetime.datetime.now(datetime.UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    names = [_name("Two-tier Root"), _name("Two-tier Issuing CA"), _name(NAME)]
    certs: list[x509.Certificate] = []
    for index in range(3):
        issuer_key = keys[max(index - 1, 0)]
        builder = (x509.CertificateBuilder().subject_name(names[index]).issuer_name(names[max(index - 1, 0)])
                   .public_key(keys[index].public_key()).serial_number(index + 10)
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(keys[index].public_key()),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if index < 2:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                                          False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        certs.append(builder.sign(issuer_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    trust, chain, key = folder / "trust.pem", folder / "chain.pem", folder / "server.key"
    trust.write_bytes(certs[0].public_bytes(pem) + certs[1].public_bytes(pem))
    chain.write_bytes(certs[2].public_bytes(pem) + certs[1].public_bytes(pem))
    key.write_bytes(keys[2].private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return trust, chain, key


def test_the_verified_chain_ends_at_the_root_even_when_the_issuing_ca_is_in_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows loads its intermediate store too; the chain must still end at the self-signed root, or every
    Microsoft endpoint would look intercepted (its chain not ending in a Microsoft root)."""
    if not getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0):
        pytest.skip("this Python's ssl module has no VERIFY_X509_PARTIAL_CHAIN")
    from aadc_doctor.net.tls import verified_chain

    trust, chain, key = _two_tier(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(chain, key)
    default = ssl.create_default_context

    def partial_default(*args: object, **kwargs: object) -> ssl.SSLContext:  # what Python 3.13 returns
        context = default()
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return context

    monkeypatch.setattr(trust_context.ssl, "create_default_context", partial_default)

    def last_subject(client: ssl.SSLContext) -> str:
        client_sock, server_sock = socket.socketpair()
        with client_sock, server_sock:
            tls_server = server_context.wrap_socket(server_sock, server_side=True, do_handshake_on_connect=False)
            done = threading.Thread(target=lambda: _quietly(tls_server.do_handshake))
            done.start()
            with client.wrap_socket(client_sock, server_hostname=NAME) as tls:
                der = verified_chain(tls)[-1]
            done.join(timeout=5)
            tls_server.close()
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()

    partial = partial_default()
    partial.load_verify_locations(cafile=str(trust))
    assert last_subject(partial) == "CN=Two-tier Issuing CA"  # the flag shortens the chain: the test can fail
    assert last_subject(system_trust_context(str(trust))) == "CN=Two-tier Root"


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(ssl.SSLError, OSError):
        call()


def test_an_unknown_root_is_still_refused(server: tuple[Path, int]) -> None:
    _, port = server
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(system_trust_context(), port)
