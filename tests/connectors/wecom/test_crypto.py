"""Callback crypto against the published vectors (protocol.md §2.6) and against wechatpy.

wechatpy is an independent implementation, a test-only dependency: its stable 1.8.18 names
the WeCom module `wechatpy.enterprise` (2.x pre-releases call it `wechatpy.work`).
"""

import base64
import re
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]

from siyu.connectors.wecom.crypto import CallbackCrypto, CallbackCryptoError, signature

# Vectors A and B: the official WeCom samples.
A_TOKEN = "QDG6eK"
A_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
A_CORP = "wx5823bf96d3bd56c7"
A_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
B_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
B_PLAIN = "\n".join(
    [
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>",
        "<FromUserName><![CDATA[mycreate]]></FromUserName>",
        "<CreateTime>1409659813</CreateTime>",
        "<MsgType><![CDATA[text]]></MsgType>",
        "<Content><![CDATA[hello]]></Content>",
        "<MsgId>4561255354251345929</MsgId>",
        "<AgentID>218</AgentID>",
        "</xml>",
    ]
).encode()

# Vector C and the other vectors of wechatpy's test suite (tests/test_crypto.py).
C_TOKEN = "123456"
C_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
C_CORP = "wx49f0ab532d5d035a"
C_PLAIN = "\n".join(
    [
        "<xml>",
        "<MsgType><![CDATA[text]]></MsgType>",
        "<Content><![CDATA[test]]></Content>",
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>",
        "<ToUserName><![CDATA[messense]]></ToUserName>",
        "<AgentID>1</AgentID>",
        "<CreateTime>1411525903</CreateTime>",
        "</xml>",
    ]
).encode()
C_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNc"
    "BqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY"
    "0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsV"
    "bwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAG"
    "VRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
WECHATPY_DECRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
    "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
    "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
    "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
    "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
WECHATPY_ECHOSTR = (
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
)


@pytest.fixture
def a() -> CallbackCrypto:
    return CallbackCrypto(A_TOKEN, A_KEY, A_CORP)


@pytest.fixture
def c() -> CallbackCrypto:
    return CallbackCrypto(C_TOKEN, C_KEY, C_CORP)


# -- known answers ---------------------------------------------------------------------------


def test_vector_a_url_verification(a: CallbackCrypto) -> None:
    assert a.key.hex() == "8d69989bbaabe67328014c194631ad0719b3dca035b64023df292447aab60760"
    assert signature(A_TOKEN, "1409659589", "263014780", A_ECHOSTR) == (
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    )
    plain = a.verify_and_decrypt(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", A_ECHOSTR
    )
    assert plain == b"1616140317555161061"


def test_vector_b_post_decryption(a: CallbackCrypto) -> None:
    plain = a.verify_and_decrypt(
        "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", B_ENCRYPT
    )
    assert plain == B_PLAIN
    assert len(plain) == 284


def test_vector_c_encrypts_byte_for_byte_with_a_fixed_prefix(c: CallbackCrypto) -> None:
    assert len(C_PLAIN) == 247
    encrypted = c.encrypt(C_PLAIN, prefix=lambda: b"1234567890123456")
    assert encrypted == C_ENCRYPT
    assert signature(C_TOKEN, "1411525903", "461056294", encrypted) == (
        "407518b7649e86ef23978113f92d27afa9296533"
    )
    assert c.decrypt(encrypted) == C_PLAIN


def test_wechatpy_decrypt_vector(c: CallbackCrypto) -> None:
    plain = c.verify_and_decrypt(
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", WECHATPY_DECRYPT
    )
    assert b"<Content><![CDATA[test]]></Content>" in plain
    assert b"<FromUserName><![CDATA[messense]]></FromUserName>" in plain
    assert b"<MsgId>4363689963896700987</MsgId>" in plain


def test_wechatpy_url_verification_vector(c: CallbackCrypto) -> None:
    plain = c.verify_and_decrypt(
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "1411443780", "437374425", WECHATPY_ECHOSTR
    )
    assert plain == b"5927782489442352469"


# -- round trips -----------------------------------------------------------------------------

messages = st.one_of(
    st.binary(min_size=0, max_size=1000),
    st.text(max_size=300).map(str.encode).filter(lambda b: len(b) <= 1000),
    st.integers(min_value=0, max_value=31).map(lambda n: "企业微信".encode() * n),
)


@settings(max_examples=300, deadline=None)
@given(message=messages, corp=st.sampled_from([A_CORP, C_CORP, ""]))
def test_encrypt_then_decrypt_round_trips(message: bytes, corp: str) -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, corp)
    encrypted, sig = crypto.seal(message, "1700000000", "nonce")
    assert crypto.verify_and_decrypt(sig, "1700000000", "nonce", encrypted) == message


@pytest.mark.parametrize("length", [0, 1, 11, 12, 31, 32, 43, 44, 64, 96, 300, 992, 1000])
def test_round_trip_at_padding_boundaries(length: int, a: CallbackCrypto) -> None:
    # 16 + 4 + 18 (corp id) + length: 12 and 44 fill whole blocks, so pad is a full 32 bytes.
    message = bytes(range(256)) * 4
    encrypted = a.encrypt(message[:length])
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert a.decrypt(encrypted) == message[:length]


# -- interoperability with wechatpy ----------------------------------------------------------


def _envelope_field(xml: str, name: str) -> str:
    found = re.search(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", xml, re.S)
    assert found is not None, f"no {name} in {xml!r}"
    return found.group(1)


INTEROP_MESSAGES = [
    C_PLAIN.decode(),
    "<xml><Event><![CDATA[change_external_contact]]></Event><Content>你好，欢迎</Content></xml>",
    "<xml><Content><![CDATA[" + "长" * 400 + "]]></Content></xml>",
]


@pytest.mark.parametrize("message", INTEROP_MESSAGES)
def test_what_wechatpy_encrypts_we_decrypt(message: str, c: CallbackCrypto) -> None:
    sealed = WeChatCrypto(C_TOKEN, C_KEY, C_CORP).encrypt_message(message, "98765", "1700000001")
    encrypted = _envelope_field(sealed, "Encrypt")
    sig = _envelope_field(sealed, "MsgSignature")

    assert c.verify_and_decrypt(sig, "1700000001", "98765", encrypted) == message.encode()


@pytest.mark.parametrize("message", INTEROP_MESSAGES)
def test_what_we_encrypt_wechatpy_decrypts(message: str, c: CallbackCrypto) -> None:
    encrypted, sig = c.seal(message.encode(), "1700000002", "12345")
    envelope = (
        f"<xml><ToUserName><![CDATA[{C_CORP}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID>1</AgentID></xml>"
    )

    decrypted = WeChatCrypto(C_TOKEN, C_KEY, C_CORP).decrypt_message(
        envelope, sig, "1700000002", "12345"
    )

    assert decrypted == message


def test_wechatpy_accepts_our_url_verification_echo(c: CallbackCrypto) -> None:
    echostr, sig = c.seal(b"8734098430934", "1700000003", "555")

    echoed = WeChatCrypto(C_TOKEN, C_KEY, C_CORP).check_signature(sig, "1700000003", "555", echostr)

    assert echoed in ("8734098430934", b"8734098430934")


# -- refusals ----------------------------------------------------------------------------------


def _code(call: Callable[[], object]) -> int:
    with pytest.raises(CallbackCryptoError) as refused:
        call()
    return refused.value.code


def test_flipped_signature_is_refused(a: CallbackCrypto) -> None:
    flipped = "6" + "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"[1:]
    assert _code(lambda: a.verify_and_decrypt(flipped, "1409659589", "263014780", A_ECHOSTR)) == (
        -40001
    )


def test_message_for_another_corp_is_refused(a: CallbackCrypto) -> None:
    other = CallbackCrypto(A_TOKEN, A_KEY, "wwanothercorp")
    assert _code(lambda: other.decrypt(B_ENCRYPT)) == -40005
    assert _code(lambda: a.decrypt(other.encrypt(b"hello"))) == -40005


def _raw_cbc(crypto: CallbackCrypto, plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(crypto.key), modes.CBC(crypto.key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@pytest.mark.parametrize("pad", [0, 33, 200])
def test_bad_padding_is_refused(pad: int, a: CallbackCrypto) -> None:
    body = b"0123456789abcdef" + struct.pack(">I", 5) + b"hello" + A_CORP.encode()
    body += b"x" * (63 - len(body))
    assert _code(lambda: a.decrypt(_raw_cbc(a, body + bytes([pad])))) == -40008


def test_wrong_key_is_refused(a: CallbackCrypto) -> None:
    wrong = CallbackCrypto(A_TOKEN, C_KEY, A_CORP)
    assert _code(lambda: wrong.decrypt(B_ENCRYPT)) in (-40005, -40008)


def test_plus_mangled_to_space_is_refused(a: CallbackCrypto) -> None:
    mangled = A_ECHOSTR.replace("+", " ")
    sig = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert _code(lambda: a.verify_and_decrypt(sig, "1409659589", "263014780", mangled)) == -40001
    assert _code(lambda: a.decrypt(mangled)) == -40010


def test_truncated_ciphertext_is_refused(a: CallbackCrypto) -> None:
    assert _code(lambda: a.decrypt(base64.b64encode(b"x" * 20).decode())) == -40007
    assert _code(lambda: a.decrypt("")) == -40007
