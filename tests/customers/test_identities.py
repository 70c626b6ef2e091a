import pytest

from siyu.customers.identities import IdentityKind, IdentityRef, mask, normalize
from siyu.exceptions import ValidationFailed


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86-138-0013-8000",
        "+86 138 0013 8000",
        "8613800138000",
        "86 138 0013 8000",
        "008613800138000",
        "+8613800138000",
        " 13800138000 ",
        "１３８００１３８０００",
    ],
)
def test_chinese_mobiles_in_any_format_normalise_to_e164(raw: str) -> None:
    assert normalize("mobile", raw) == IdentityRef("mobile", "+8613800138000")


def test_foreign_mobile_keeps_its_country_code() -> None:
    assert normalize("mobile", "+1 650 253 0000").value == "+16502530000"
    assert normalize("mobile", "+44 7911 123456").value == "+447911123456"


@pytest.mark.parametrize(
    "raw",
    ["12345", "1380013800", "138001380001", "abc", "+86 000 0000 0000", "010-12345678"],
)
def test_invalid_or_non_mobile_numbers_are_rejected_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize("mobile", raw, field="records[2].mobile")
    assert caught.value.field == "records[2].mobile"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Foo.Bar@Example.COM", "foo.bar@example.com"),
        ("  li.lei@QQ.com ", "li.lei@qq.com"),
        ("user+tag@163.com", "user+tag@163.com"),
    ],
)
def test_emails_are_lower_cased_and_trimmed(raw: str, expected: str) -> None:
    assert normalize("email", raw) == IdentityRef("email", expected)


@pytest.mark.parametrize(
    "raw", ["no-at-sign", "a@b", "@example.com", "a b@example.com", "a@@b.com"]
)
def test_malformed_emails_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize("email", raw, field="email")
    assert caught.value.field == "email"


def test_unknown_kind_and_empty_value_are_rejected() -> None:
    with pytest.raises(ValidationFailed, match="unknown identity kind"):
        normalize("qq_number", "12345")
    with pytest.raises(ValidationFailed, match="empty"):
        normalize("wechat_unionid", "   ")


def test_kind_is_case_insensitive_and_other_values_are_trimmed_only() -> None:
    assert normalize("WECHAT_UNIONID", " oAbC123 ") == IdentityRef("wechat_unionid", "oAbC123")


def test_openid_must_name_its_app() -> None:
    assert normalize("wechat_openid", "wx123 : oXyZ").value == "wx123:oXyZ"
    with pytest.raises(ValidationFailed):
        normalize("wechat_openid", "oXyZ")
    with pytest.raises(ValidationFailed):
        normalize("wechat_openid", "wx123:")


def test_overlong_values_are_rejected() -> None:
    with pytest.raises(ValidationFailed, match="longer than"):
        normalize("app_user_id", "x" * 201)


def test_every_listed_kind_is_accepted() -> None:
    samples = {IdentityKind.MOBILE: "13800138000", IdentityKind.EMAIL: "a@example.com"}
    for kind in IdentityKind:
        value = samples.get(kind, "wx1:o1" if kind == IdentityKind.WECHAT_OPENID else "id-1")
        assert normalize(kind.value, value).kind == kind.value


def test_masking_hides_the_middle_of_personal_data() -> None:
    assert mask("mobile", "+8613800138000") == "+86138****8000"
    assert mask("email", "alice@x.com") == "a***@x.com"
    assert mask("wechat_openid", "wx123:oAbcdefghijk") == "wx123:oAb***ijk"
    assert mask("wechat_unionid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M") == "o6_***L2M"
    assert mask("store_member_no", "1234") == "****"
