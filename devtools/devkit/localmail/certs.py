"""A throwaway certificate authority and a server certificate for 127.0.0.1.

The local servers speak TLS the way production does, and clients verify
them against `ca_file` the way they verify a real server: no switch that
turns verification off is ever needed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalCertificate:
    ca_file: Path  # trust this
    cert_file: Path  # the server's chain
    key_file: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificate(directory: Path, host: str = "127.0.0.1") -> LocalCertificate:
    """Create (once) a CA and a certificate for `host` and `localhost` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    cert = LocalCertificate(
        directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )
    if cert.ca_file.exists() and cert.cert_file.exists() and cert.key_file.exists():
        return cert
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        "-subj", "/CN=kopplingar local test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(
        f"subjectAltName=IP:{host},DNS:localhost\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "3650", "-out", "server.pem", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    cert.key_file.chmod(0o640)
    return cert
