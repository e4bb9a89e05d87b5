import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    load_pem_private_key,
    pkcs12,
)

from rulings.pki import PkiError, PkiPaths, import_pkcs12, init_pki


def test_init_makes_a_p256_ca_and_a_signing_certificate(tmp_path: Path) -> None:
    paths = init_pki(tmp_path / "var" / "pki", "pw", ca_passphrase="ca-pw")
    assert paths.ca_cert == tmp_path / "var" / "pki" / "ca.pem"
    for f in (paths.ca_cert, paths.ca_key, paths.board_p12, paths.board_cert, paths.board_key):
        assert f.is_file()
    for secret in (paths.ca_key, paths.board_p12, paths.board_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    key, cert, chain = pkcs12.load_key_and_certificates(paths.board_p12.read_bytes(), b"pw")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert cert is not None
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)
    assert chain == [ca]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "Heyat board signing" in cert.subject.rfc4514_string()


def test_init_is_idempotent_unless_forced(tmp_path: Path) -> None:
    first = init_pki(tmp_path, None)
    ca_before = first.ca_cert.read_bytes()
    p12_before = first.board_p12.read_bytes()
    init_pki(tmp_path, None)
    assert first.ca_cert.read_bytes() == ca_before
    assert first.board_p12.read_bytes() == p12_before
    init_pki(tmp_path, None, force=True)
    assert first.ca_cert.read_bytes() != ca_before


def test_missing_board_certificate_is_reissued_from_the_existing_ca(tmp_path: Path) -> None:
    paths = init_pki(tmp_path, "pw", ca_passphrase="ca-pw")
    ca_before = paths.ca_cert.read_bytes()
    paths.board_p12.unlink()
    init_pki(tmp_path, "pw", ca_passphrase="ca-pw")
    assert paths.ca_cert.read_bytes() == ca_before
    _, cert, _ = pkcs12.load_key_and_certificates(paths.board_p12.read_bytes(), b"pw")
    assert cert is not None
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_before))
    paths.board_p12.unlink()
    with pytest.raises(PkiError, match="passphrase"):
        init_pki(tmp_path, "pw", ca_passphrase="wrong")
    with pytest.raises(PkiError, match="passphrase"):
        init_pki(tmp_path, "pw")


def test_ca_key_is_kept_only_encrypted_with_its_own_passphrase(tmp_path: Path) -> None:
    """Issue #13, item 10: the running app needs only board.p12; the CA key is stored
    encrypted with the CA passphrase (not the board password), or not at all."""
    paths = init_pki(tmp_path / "kept", None, ca_passphrase="ca-pw")
    data = paths.ca_key.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in data
    with pytest.raises(TypeError):
        load_pem_private_key(data, None)
    assert isinstance(load_pem_private_key(data, b"ca-pw"), ec.EllipticCurvePrivateKey)

    offline = init_pki(tmp_path / "offline", None)
    assert not offline.ca_key.exists()
    assert offline.board_p12.is_file() and offline.ca_cert.is_file()
    assert init_pki(tmp_path / "offline", None).board_p12 == offline.board_p12  # idempotent
    offline.board_p12.unlink()
    with pytest.raises(PkiError, match="CA key"):
        init_pki(tmp_path / "offline", None)  # no CA key to issue from: says so


def test_demo_installation_holds_no_ca_key(settings: Any) -> None:
    """The installation the tests and `make run` use signs with board.p12 alone."""
    paths = PkiPaths.in_directory(settings.pki_dir)
    assert paths.board_p12.is_file() and paths.ca_cert.is_file()
    assert not paths.ca_key.exists()


def test_import_an_organisation_pkcs12(tmp_path: Path, other_pki: PkiPaths) -> None:
    target = import_pkcs12(other_pki.board_p12, None, tmp_path / "pki")
    assert target.board_p12.read_bytes() == other_pki.board_p12.read_bytes()
    assert target.ca_cert.read_bytes() == other_pki.ca_cert.read_bytes()
    with pytest.raises(PkiError, match="already exists"):
        import_pkcs12(other_pki.board_p12, None, tmp_path / "pki")
    import_pkcs12(other_pki.board_p12, None, tmp_path / "pki", force=True)


def test_import_refuses_a_wrong_password_and_garbage(tmp_path: Path, board_pki: PkiPaths) -> None:
    with pytest.raises(PkiError, match="password"):
        import_pkcs12(board_pki.board_p12, "not-it", tmp_path)
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"not a pkcs12")
    with pytest.raises(PkiError):
        import_pkcs12(junk, None, tmp_path)


def test_import_needs_a_trust_root(tmp_path: Path, board_pki: PkiPaths) -> None:
    key, cert, _ = pkcs12.load_key_and_certificates(
        board_pki.board_p12.read_bytes(), b"board-secret"
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    bare = tmp_path / "bare.p12"
    bare.write_bytes(
        pkcs12.serialize_key_and_certificates(b"b", key, cert, None, BestAvailableEncryption(b"x"))
    )
    with pytest.raises(PkiError, match="trust root"):
        import_pkcs12(bare, "x", tmp_path / "a")
    paths = import_pkcs12(bare, "x", tmp_path / "b", ca_pem=board_pki.ca_cert)
    assert paths.ca_cert.read_bytes() == board_pki.ca_cert.read_bytes()
