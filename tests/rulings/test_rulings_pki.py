import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from rulings.pki import PkiError, PkiPaths, import_pkcs12, init_pki


def test_init_makes_a_p256_ca_and_a_signing_certificate(tmp_path: Path) -> None:
    paths = init_pki(tmp_path / "var" / "pki", "pw")
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
    paths = init_pki(tmp_path, "pw")
    ca_before = paths.ca_cert.read_bytes()
    paths.board_p12.unlink()
    init_pki(tmp_path, "pw")
    assert paths.ca_cert.read_bytes() == ca_before
    _, cert, _ = pkcs12.load_key_and_certificates(paths.board_p12.read_bytes(), b"pw")
    assert cert is not None
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_before))
    paths.board_p12.unlink()
    with pytest.raises(PkiError, match="password"):
        init_pki(tmp_path, "wrong")


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
