"""Signing on loopback, for the WACZ signing test: an RFC 3161 timestamping authority (a
test tool: authsign signs nothing without one, and the real ones are public servers) and
the certificates and configuration of an authsign server that uses it.

authsign (webrecorder/authsign) takes an existing domain certificate and key from its data
folder (Signer.load_key_pair_and_cert) instead of asking an ACME authority for one, and
trusts the roots its configuration's `trusted_roots` names: both are made here, for
`localhost`, so that nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import rfc3161ng
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

SHA256 = "2.16.840.1.101.3.4.2.1"
RSA = "1.2.840.113549.1.1.1"
SIGNED_DATA = "1.2.840.113549.1.7.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
POLICY = "1.3.6.1.4.1.99999.1"  # a private arc: a test policy


# --- DER, as far as a timestamp token needs it ---------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER: a SET OF in the order of its encodings


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _oid(dotted: str) -> bytes:
    first, second, *rest = map(int, dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.insert(0, 0x80 | (arc & 0x7F))
        body += bytes(chunk)
    return _tlv(0x06, bytes(body))


def _algorithm(dotted: str) -> bytes:
    return _seq(_oid(dotted), b"\x05\x00")


def _explicit(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def timestamp_response(request: bytes, key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bytes:
    """A granted TimeStampResp for a DER TimeStampReq: its message imprint, the time now,
    signed by key (PKCS#1 v1.5, SHA-256, over signed attributes), cert included."""
    asked = rfc3161ng.decode_timestamp_request(request)
    imprint = asked["messageImprint"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%SZ").encode()
    info = _seq(
        _int(1),
        _oid(POLICY),
        _seq(
            _algorithm(str(imprint["hashAlgorithm"]["algorithm"])),
            _tlv(0x04, bytes(imprint["hashedMessage"])),
        ),  # fmt: skip
        _int(int.from_bytes(hashlib.sha256(request + now).digest()[:8], "big")),
        _tlv(0x18, now),
        *([_int(int(asked["nonce"]))] if asked["nonce"].isValue else []),
    )
    attributes = [
        _seq(_oid(CONTENT_TYPE), _set(_oid(TST_INFO))),
        _seq(_oid(MESSAGE_DIGEST), _set(_tlv(0x04, hashlib.sha256(info).digest()))),
    ]
    signature = key.sign(_set(*attributes), padding.PKCS1v15(), hashes.SHA256())
    issuer = cert.issuer.public_bytes()
    signer = _seq(
        _int(1),
        _seq(issuer, _int(cert.serial_number)),
        _algorithm(SHA256),
        _tlv(0xA0, b"".join(sorted(attributes))),
        _algorithm(RSA),
        _tlv(0x04, signature),
    )
    signed = _seq(
        _int(3),
        _set(_algorithm(SHA256)),
        _seq(_oid(TST_INFO), _explicit(0, _tlv(0x04, info))),
        _tlv(0xA0, cert.public_bytes(serialization.Encoding.DER)),
        _set(signer),
    )
    return _seq(_seq(_int(0)), _seq(_oid(SIGNED_DATA), _explicit(0, signed)))


def self_signed(name: str, key) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


class Timestamper:
    """An RFC 3161 timestamping authority on 127.0.0.1 (stop it with .stop())."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = self_signed("investcrawl test TSA", self.key)
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = self.rfile.read(int(self.headers["Content-Length"]))
                body = timestamp_response(request, authority.key, authority.cert)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def authsign_config(folder: Path, timestamper: Timestamper) -> Path:
    """authsign's config.yaml in folder, its data (a domain certificate for localhost and
    its key, as authsign saves them) and trusted roots (that certificate and the TSA's)."""
    data = folder / "data"
    data.mkdir(parents=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed("localhost", key)
    (data / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (data / "private-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),  # authsign's own
        )
    )
    roots = folder / "roots.yaml"
    roots.write_text(
        f"domain_cert_roots:\n  - {fingerprint(cert)}\n"
        f"timestamp_cert_roots:\n  - {fingerprint(timestamper.cert)}\n"
    )
    config = folder / "config.yaml"
    config.write_text(
        "signing:\n"
        "  domain: localhost\n"
        "  email: nobody@localhost\n"
        "  port: 80\n"
        f"  output: {data}\n"
        "  timestamping:\n"
        f"    - url: {timestamper.url}\n"
        f"trusted_roots: {roots}\n"
    )
    return config
