"""A test certificate authority and PDF signing, as an e-signature service does it.

Made fresh wherever it is used (cryptography for the keys and certificates,
pyHanko for the signatures), so no key material is committed and no test
depends on a real e-ID. A signer certificate carries the person's name as
its common name and, as Swedish e-ID certificates do, the personnummer as
its serialNumber attribute.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.registry import SimpleCertificateStore

NOW = dt.datetime.now(dt.UTC)
CRL_URL = "http://crl.example.invalid/testbanken.crl"


def _name(common: str, serial: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
             x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=not ca, key_cert_sign=ca,
                         crl_sign=ca, key_encipherment=False, data_encipherment=False,
                         key_agreement=False, encipher_only=False, decipher_only=False)


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class Signer:
    name: str
    personnummer: str | None
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    def pyhanko(self) -> signers.SimpleSigner:
        der = self.key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        return signers.SimpleSigner(
            signing_cert=_asn1(self.cert), signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1(c) for c in self.chain]))


@dataclass(frozen=True)
class TestCA:
    """A root certificate authority that issues signer certificates."""

    __test__ = False  # not a pytest class

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, name: str = "Testbankens e-legitimation CA") -> TestCA:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(NOW - dt.timedelta(days=30))
                .not_valid_after(NOW + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_usage(ca=True), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(name, key, cert)

    def issue(self, name: str, personnummer: str | None = None, *,
              valid_from: dt.datetime | None = None,
              valid_to: dt.datetime | None = None, timestamps: bool = False) -> Signer:
        # pyHanko's time-stamping authority for tests signs with RSA only.
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048) if timestamps
            else ec.generate_private_key(ec.SECP256R1()))
        cert = (x509.CertificateBuilder().subject_name(_name(name, personnummer))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(valid_from or NOW - dt.timedelta(days=1))
                .not_valid_after(valid_to or NOW + dt.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_usage(ca=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.TIME_STAMPING] if timestamps
                    else [ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=timestamps)
                # Where the issuer publishes revocations, as real e-ID certificates say; never
                # fetched (there is no network), the lists come embedded in the file (`crl`).
                .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(CRL_URL)], relative_name=None,
                    reasons=None, crl_issuer=None)]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return Signer(name, personnummer, key, cert, (self.cert,))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def crl(self, revoked: tuple[Signer, ...] = ()) -> bytes:
        """The authority's revocation list (DER), with `revoked` on it."""
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(NOW - dt.timedelta(hours=1))
                   .next_update(NOW + dt.timedelta(days=3650)))
        for signer in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(signer.cert.serial_number)
                .revocation_date(NOW - dt.timedelta(minutes=30)).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def embed_revocation(pdf: bytes, ca: TestCA, crl: bytes) -> bytes:
    """Long-term validation data added after the last signature (a DSS with the chain and
    the revocation list), as an e-signature service does for a PAdES-LT signature."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    signature = reader.embedded_signatures[-1]
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(out, signature.pkcs7_content, certs=[_asn1(ca.cert)],
                                  crls=[asn1_crl.CertificateList.load(crl)])
    return out.getvalue()


def sign_pdf(pdf: bytes, signer: Signer, field: str, *, page: int = 0,
             box: tuple[int, int, int, int] | None = None,
             timestamps: Signer | None = None) -> bytes:
    """`pdf` signed by `signer` in a new signature field (an incremental update), as an
    e-signature service returns it; `box` in points places the field (else invisible);
    `timestamps`, a time-stamping authority's signer, adds a signature timestamp token."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    fields.append_signature_field(writer, fields.SigFieldSpec(
        sig_field_name=field, on_page=page, box=box))
    stamper = None
    if timestamps is not None:
        key = timestamps.key.private_bytes(serialization.Encoding.DER,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        stamper = DummyTimeStamper(
            tsa_cert=_asn1(timestamps.cert), tsa_key=asn1_keys.PrivateKeyInfo.load(key),
            certs_to_embed=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1(c) for c in timestamps.chain]))
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name=field),
                           signer=signer.pyhanko(), timestamper=stamper)
    return bytes(out.getvalue())
