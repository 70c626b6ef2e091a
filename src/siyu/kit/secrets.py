"""Provider secrets (WeCom corp secrets, SMS keys, SMTP passwords) encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, random IV per value) under a key derived with
HKDF-SHA256 from SIYU_SECRET_KEY. When the secret key is rotated, the old ones go in
SIYU_PREVIOUS_SECRET_KEYS so stored values still decrypt; new writes use the new key.
"""

import base64
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from siyu.config import get_settings

_INFO = b"siyu provider secrets v1"


class SecretDecryptionError(Exception):
    """A stored secret does not decrypt with the configured keys."""


def derive_fernet_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _plain(value: SecretStr | str) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class SecretBox:
    """Encrypts with the current key; decrypts with the current or any previous key."""

    def __init__(
        self, secret_key: SecretStr | str, previous: Sequence[SecretStr | str] = ()
    ) -> None:
        keys = [secret_key, *previous]
        self._fernet = MultiFernet([Fernet(derive_fernet_key(_plain(k))) for k in keys])

    def __repr__(self) -> str:
        return "SecretBox(**********)"

    def encrypt(self, plaintext: SecretStr | str) -> str:
        return self._fernet.encrypt(_plain(plaintext).encode()).decode("ascii")

    def decrypt(self, token: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(token.encode("ascii")).decode())
        except (InvalidToken, UnicodeError) as exc:
            msg = (
                "a stored secret does not decrypt: was SIYU_SECRET_KEY changed without "
                "listing the old key in SIYU_PREVIOUS_SECRET_KEYS?"
            )
            raise SecretDecryptionError(msg) from exc


@lru_cache
def default_box() -> SecretBox:
    """The process's box, keyed from the settings (cached like the settings are)."""
    settings = get_settings()
    return SecretBox(settings.secret_key, settings.previous_secret_keys)
