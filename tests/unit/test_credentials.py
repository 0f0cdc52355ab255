"""Mosquitto password hashes and the password file."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest

from broker.credentials import TABLET_ACL, PasswordFile, hash_password, write_acl


def verify(password: str, hashed: str) -> bool:
    """Mosquitto's check of a ``$7$`` hash, recomputed with hashlib."""
    empty, kind, iterations, salt_b64, digest_b64 = hashed.split("$")
    assert (empty, kind) == ("", "7")
    salt = base64.b64decode(salt_b64, validate=True)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    return base64.b64decode(digest_b64, validate=True) == digest


def test_hash_format() -> None:
    hashed = hash_password("s3cret")
    _, kind, iterations, salt_b64, digest_b64 = hashed.split("$")
    assert (kind, iterations) == ("7", "101")
    assert len(base64.b64decode(salt_b64, validate=True)) == 12
    assert len(base64.b64decode(digest_b64, validate=True)) == 64
    assert len(salt_b64) == 16
    assert len(digest_b64) == 88


@pytest.mark.parametrize("password", ["s3cret", "", "pässwörd", "with:colon$and$dollar"])
def test_hash_verifies_with_hashlib(password: str) -> None:
    hashed = hash_password(password)
    assert verify(password, hashed)
    assert not verify(password + "x", hashed)


def test_known_salt_gives_a_known_hash() -> None:
    salt = bytes(range(12))
    expected = base64.b64encode(hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101)).decode()
    assert hash_password("pw", salt) == f"$7$101$AAECAwQFBgcICQoL${expected}"


def test_salts_are_random() -> None:
    assert hash_password("pw") != hash_password("pw")


def test_password_file_round_trip(tmp_path: Path) -> None:
    pwfile = PasswordFile(tmp_path / "mosquitto.passwd")
    assert pwfile.read() == {}

    pwfile.set_many({"tablet-b": "pw-b", "hub": "pw-hub"})
    entries = pwfile.read()
    assert sorted(entries) == ["hub", "tablet-b"]
    assert verify("pw-b", entries["tablet-b"])
    lines = pwfile.path.read_text().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["hub", "tablet-b"]  # sorted

    pwfile.set_many({"tablet-a": "pw-a", "tablet-b": "new-b"})
    entries = pwfile.read()
    assert sorted(entries) == ["hub", "tablet-a", "tablet-b"]
    assert verify("new-b", entries["tablet-b"])
    assert verify("pw-hub", entries["hub"])  # untouched users keep their hash

    assert pwfile.remove("tablet-a") is True
    assert pwfile.remove("tablet-a") is False
    assert sorted(pwfile.read()) == ["hub", "tablet-b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mosquitto.passwd"]  # no .tmp left


def test_password_file_is_not_world_readable(tmp_path: Path) -> None:
    pwfile = PasswordFile(tmp_path / "passwd")
    pwfile.set_many({"u": "p"})
    assert stat.S_IMODE(pwfile.path.stat().st_mode) == 0o640


def test_password_file_ignores_lines_without_a_colon(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("# comment\n\nu1:$7$x\n")
    assert PasswordFile(path).read() == {"u1": "$7$x"}


def test_remove_from_a_missing_file(tmp_path: Path) -> None:
    pwfile = PasswordFile(tmp_path / "passwd")
    assert pwfile.remove("nobody") is False
    assert pwfile.read() == {}


def test_write_acl(tmp_path: Path) -> None:
    path = tmp_path / "acl"
    write_acl(path, "fleethub-hub")
    text = path.read_text()
    assert text == TABLET_ACL.format(hub="fleethub-hub")
    assert "user fleethub-hub\n" in text
    assert "pattern readwrite tablets/%u/#" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
