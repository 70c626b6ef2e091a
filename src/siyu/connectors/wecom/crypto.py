"""WeCom callback crypto: SHA1 signatures and AES-256-CBC with 32-byte PKCS#7 padding.

The layout is `random(16) ‖ len(msg) as 4 bytes big-endian ‖ msg ‖ receive id`; the IV is
the first 16 bytes of the key (protocol.md §2.4–2.5).
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
_ALPHANUMERIC = string.ascii_letters + string.digits


class CallbackCryptoError(Exception):
    """A callback that cannot be trusted; `code` is the official library's error number."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypted))).encode()).hexdigest()  # noqa: S324 - the protocol's algorithm


def random_prefix() -> bytes:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(16)).encode()


def new_token() -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))


def new_encoding_aes_key() -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(43))


@dataclass(frozen=True)
class CallbackCrypto:
    """One receiver's Token, EncodingAESKey and receive id (the corp id)."""

    token: str
    encoding_aes_key: str
    receive_id: str

    def __post_init__(self) -> None:
        if len(self.encoding_aes_key) != 43 or not self.encoding_aes_key.isalnum():
            raise CallbackCryptoError(-40004, "EncodingAESKey must be 43 letters or digits")

    @property
    def key(self) -> bytes:
        return base64.b64decode(self.encoding_aes_key + "=")

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature.lower()):
            raise CallbackCryptoError(-40001, "signature mismatch")

    def decrypt(self, encrypted: str) -> bytes:
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallbackCryptoError(-40010, "ciphertext is not base64") from exc
        if not ciphertext or len(ciphertext) % 16:
            raise CallbackCryptoError(-40007, "ciphertext length is not a multiple of 16")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or len(padded) < pad:
            raise CallbackCryptoError(-40008, "bad padding")
        plain = padded[:-pad]
        if len(plain) < 20:
            raise CallbackCryptoError(-40008, "decrypted buffer too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CallbackCryptoError(-40008, "message length exceeds the buffer")
        receive_id = plain[20 + length :].decode("utf-8", "replace")
        if receive_id != self.receive_id:
            raise CallbackCryptoError(-40005, "receive id does not match the corp id")
        return plain[20 : 20 + length]

    def verify_and_decrypt(
        self, msg_signature: str, timestamp: str, nonce: str, encrypted: str
    ) -> bytes:
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt(self, message: bytes, prefix: Callable[[], bytes] = random_prefix) -> str:
        plain = prefix() + struct.pack(">I", len(message)) + message + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        padded = plain + bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def seal(self, message: bytes, timestamp: str, nonce: str) -> tuple[str, str]:
        """Encrypt and sign: returns (Encrypt, msg_signature)."""
        encrypted = self.encrypt(message)
        return encrypted, signature(self.token, timestamp, nonce, encrypted)
