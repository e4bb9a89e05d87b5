"""The board's signing keys: a local CA for new installations, or an organisation's PKCS#12.

Files in the PKI directory (``var/pki`` by default, chosen by the caller):

- ``ca.pem``         trust root(s) that verification trusts
- ``ca.key.pem``     the local CA's private key (only with :func:`init_pki` given a CA
                     passphrase, encrypted with it; without one the key is never written)
- ``board.p12``      the board signing key and certificate chain, used by :mod:`rulings.sign`
- ``board.pem``      the board signing certificate
- ``board.key.pem``  the board signing key (only with :func:`init_pki`)

The running app reads only ``board.p12`` (to sign) and ``ca.pem`` (to verify); the CA
key is needed only to issue a new board certificate, by ``heyat pki init``.

Keys are ECDSA P-256: pyHanko signs with it in ~40 ms and poppler's ``pdfsig``
accepts it (Ed25519 it does not).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

CA_VALIDITY = timedelta(days=3650)
BOARD_VALIDITY = timedelta(days=3 * 365)


class PkiError(ValueError):
    """The PKI directory or an imported PKCS#12 file cannot be used; the message says why."""


@dataclass(frozen=True)
class PkiPaths:
    directory: Path
    ca_cert: Path
    ca_key: Path
    board_p12: Path
    board_cert: Path
    board_key: Path

    @classmethod
    def in_directory(cls, directory: Path | str) -> PkiPaths:
        d = Path(directory)
        return cls(
            directory=d,
            ca_cert=d / "ca.pem",
            ca_key=d / "ca.key.pem",
            board_p12=d / "board.p12",
            board_cert=d / "board.pem",
            board_key=d / "board.key.pem",
        )


def _password_bytes(password: bytes | str | None) -> bytes | None:
    if password is None or password in (b"", ""):
        return None
    return password.encode() if isinstance(password, str) else password


def _key_encryption(password: bytes | None) -> serialization.KeySerializationEncryption:
    if password is None:
        return serialization.NoEncryption()
    return serialization.BestAvailableEncryption(password)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by the owner only (created 0600, never world-readable)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "IR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca(
    organisation: str, now: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{organisation} Root CA", organisation)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_board_cert(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    organisation: str,
    now: datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + BOARD_VALIDITY, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, organisation))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _load_ca(
    paths: PkiPaths, passphrase: bytes | None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    if not paths.ca_key.is_file():
        raise PkiError(
            f"{paths.directory} has no CA key (ca.key.pem: kept offline or never stored) to "
            "issue a new board certificate from; put it back, or start again with force=True."
        )
    try:
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), passphrase)
    except (TypeError, ValueError) as exc:
        raise PkiError(
            f"Cannot open the CA key {paths.ca_key}: wrong or missing CA passphrase."
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"The CA key {paths.ca_key} is not an ECDSA key.")
    return key, cert


def init_pki(
    directory: Path | str,
    password: bytes | str | None = None,
    *,
    ca_passphrase: bytes | str | None = None,
    force: bool = False,
    board_name: str = "Heyat board signing",
    organisation: str = "Heyat",
) -> PkiPaths:
    """Create a local ECDSA P-256 CA and a board signing certificate it issues.

    Idempotent: when the files already exist they are kept (and the CA is reused
    to issue a missing board certificate, which needs its key and passphrase);
    ``force=True`` replaces everything. ``password`` protects ``board.p12`` and
    ``board.key.pem``; None leaves them unencrypted (files are still mode 0600).
    ``ca_passphrase`` encrypts the CA key into ``ca.key.pem``; without one the CA key
    is used once and never written (a new board certificate then needs a new CA).
    """
    paths = PkiPaths.in_directory(directory)
    pw = _password_bytes(password)
    ca_pw = _password_bytes(ca_passphrase)
    paths.directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)

    ca_present = paths.ca_cert.is_file()
    board_present = paths.board_p12.is_file() and paths.board_cert.is_file()
    if not force and ca_present and board_present:
        return paths
    if not force and board_present and not ca_present:
        raise PkiError(
            f"{paths.directory} holds a board certificate but no CA (ca.pem); "
            "use force=True to start again."
        )

    if force or not ca_present:
        ca_key, ca_cert = _make_ca(organisation, now)
        if paths.ca_key.exists():
            paths.ca_key.unlink()  # an old CA's key must not stay beside the new CA
        if ca_pw is not None:
            _write_private(
                paths.ca_key,
                ca_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    _key_encryption(ca_pw),
                ),
            )
        _write_public(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    else:
        ca_key, ca_cert = _load_ca(paths, ca_pw)

    board_key, board_cert = _make_board_cert(ca_key, ca_cert, board_name, organisation, now)
    p12 = pkcs12.serialize_key_and_certificates(
        name=board_name.encode(),
        key=board_key,
        cert=board_cert,
        cas=[ca_cert],
        encryption_algorithm=_key_encryption(pw),
    )
    _write_private(paths.board_p12, p12)
    _write_private(
        paths.board_key,
        board_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _key_encryption(pw)
        ),
    )
    _write_public(paths.board_cert, board_cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def import_pkcs12(
    path: Path | str,
    password: bytes | str | None,
    directory: Path | str,
    *,
    ca_pem: Path | str | None = None,
    force: bool = False,
) -> PkiPaths:
    """Check an organisation's PKCS#12 and install it as the board signing identity.

    The file must hold a private key matching its certificate, the certificate
    must be valid now and allowed to sign (digitalSignature or nonRepudiation).
    The trust root comes from ``ca_pem`` or, failing that, from a self-signed
    certificate inside the PKCS#12; without either the import is refused.
    Existing board files are replaced only with ``force=True``.
    """
    source = Path(path)
    paths = PkiPaths.in_directory(directory)
    pw = _password_bytes(password)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise PkiError(f"Cannot read {source}: {exc.strerror}.") from exc
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"{source} is not a PKCS#12 file, or the password is wrong.") from exc
    if key is None or cert is None:
        raise PkiError(f"{source} must contain both a private key and its certificate.")
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiError("Only ECDSA and RSA signing keys are supported.")
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise PkiError("The private key does not match the certificate in the PKCS#12 file.")
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise PkiError(
            f"The signing certificate is not valid now (valid {cert.not_valid_before_utc:%Y-%m-%d}"
            f" to {cert.not_valid_after_utc:%Y-%m-%d})."
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise PkiError("The certificate's key usage does not allow signing documents.")

    roots: list[x509.Certificate]
    if ca_pem is not None:
        roots = x509.load_pem_x509_certificates(Path(ca_pem).read_bytes())
    else:
        roots = [c for c in extra if _is_self_signed(c)]
    if not roots:
        raise PkiError(
            "No trust root: the PKCS#12 file has no self-signed CA certificate; "
            "give the organisation's CA certificate (ca_pem)."
        )

    if paths.board_p12.exists() and not force:
        raise PkiError(f"{paths.board_p12} already exists; use force=True to replace it.")
    paths.directory.mkdir(parents=True, exist_ok=True)
    _write_private(paths.board_p12, data)
    _write_public(paths.board_cert, cert.public_bytes(serialization.Encoding.PEM))
    _write_public(
        paths.ca_cert, b"".join(r.public_bytes(serialization.Encoding.PEM) for r in roots)
    )
    return paths
