"""Provider secrets are encrypted at rest and never shown in reprs."""

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text

from siyu.db.types import EncryptedString
from siyu.kit.secrets import SecretBox, SecretDecryptionError

SECRET = "wecom-corp-secret-9f8e7d6c5b4a"


def test_round_trip_and_fresh_ciphertext_each_time() -> None:
    box = SecretBox("k" * 48)
    first, second = box.encrypt(SECRET), box.encrypt(SecretStr(SECRET))
    assert SECRET not in first
    assert first != second  # random IV: equal secrets do not look equal at rest
    assert box.decrypt(first).get_secret_value() == SECRET
    assert box.decrypt(second).get_secret_value() == SECRET


def test_wrong_key_does_not_decrypt() -> None:
    token = SecretBox("k" * 48).encrypt(SECRET)
    with pytest.raises(SecretDecryptionError, match="SIYU_PREVIOUS_SECRET_KEYS"):
        SecretBox("z" * 48).decrypt(token)


def test_previous_keys_still_decrypt_after_rotation() -> None:
    old = SecretBox("old" * 16).encrypt(SECRET)
    rotated = SecretBox("new" * 16, previous=["old" * 16])
    assert rotated.decrypt(old).get_secret_value() == SECRET


def test_decrypted_secret_hides_in_repr() -> None:
    box = SecretBox("k" * 48)
    decrypted = box.decrypt(box.encrypt(SECRET))
    assert SECRET not in repr(decrypted)
    assert SECRET not in str(decrypted)
    assert "k" * 48 not in repr(box)


@pytest.fixture
def vault(engine: Engine) -> Iterator[Table]:
    """A table outside the app's metadata with one encrypted column."""
    metadata = MetaData()
    table = Table(
        "test_provider_secret",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("secret", EncryptedString()),
    )
    metadata.create_all(engine)
    yield table
    metadata.drop_all(engine)


def test_encrypted_column_stores_ciphertext_and_reads_back_a_secretstr(
    engine: Engine, vault: Table
) -> None:
    with engine.begin() as connection:
        connection.execute(insert(vault).values(id=1, secret=SecretStr(SECRET)))
        connection.execute(insert(vault).values(id=2, secret=None))
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT secret FROM test_provider_secret WHERE id = 1")
        ).scalar_one()
        typed = connection.execute(select(vault.c.secret).where(vault.c.id == 1)).scalar_one()
        empty = connection.execute(select(vault.c.secret).where(vault.c.id == 2)).scalar_one()
    assert SECRET not in raw
    assert raw != SECRET
    assert isinstance(typed, SecretStr)
    assert typed.get_secret_value() == SECRET
    assert empty is None
