from pydantic import SecretStr

from siyu.config import Settings
from siyu.kit import tokens


def rotated(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": SecretStr("a-new-key-" * 4),
            "previous_secret_keys": [settings.secret_key],
        }
    )


def test_sealed_data_opens_with_its_key_and_hides_what_it_holds(settings: Settings) -> None:
    key = tokens.keys(settings, "test")[0]
    data = (123456789).to_bytes(8, "big")
    sealed = tokens.seal(key, data)

    assert tokens.unseal([key], sealed) == data
    assert tokens.seal(key, data) == sealed  # the same data, the same token
    assert tokens.encode(data) not in sealed
    assert tokens.unseal(tokens.keys(settings, "other purpose"), sealed) is None
    assert tokens.unseal(tokens.keys(rotated(settings), "test"), sealed) == data


def test_any_change_to_a_sealed_token_is_refused(settings: Settings) -> None:
    key = tokens.keys(settings, "test")[0]
    sealed = tokens.seal(key, b"\x00" * 16)
    for index in range(len(sealed)):
        changed = sealed[:index] + ("B" if sealed[index] == "A" else "A") + sealed[index + 1 :]
        assert tokens.unseal([key], changed) is None
    assert tokens.unseal([key], sealed[:-2]) is None
    assert tokens.unseal([key], "") is None
    assert tokens.unseal([key], "not base64 !") is None


def test_signed_fields_verify_under_current_and_previous_keys_only(settings: Settings) -> None:
    signed = tokens.sign(tokens.keys(settings, "test")[0], "7.8.email")

    assert tokens.verify(tokens.keys(settings, "test"), signed) == "7.8.email"
    assert tokens.verify(tokens.keys(rotated(settings), "test"), signed) == "7.8.email"
    other = settings.model_copy(update={"secret_key": SecretStr("someone-else-" * 3)})
    assert tokens.verify(tokens.keys(other, "test"), signed) is None
    assert tokens.verify(tokens.keys(settings, "test"), "7.9.email" + signed[9:]) is None
