"""Signature V1 exactly as Aliyun computes it (the published SendSms example is the vector)."""

from siyu.connectors.aliyun_sms.signing import (
    canonicalized_query,
    percent_encode,
    signature,
    string_to_sign,
)

# The example of Aliyun's SMS signature documentation (签名机制, AccessKey testId/testSecret).
EXAMPLE = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


def test_signature_matches_aliyuns_published_example() -> None:
    assert signature("GET", EXAMPLE, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signature_ignores_a_signature_parameter_and_depends_on_the_method() -> None:
    with_signature = {**EXAMPLE, "Signature": "anything"}
    assert signature("GET", with_signature, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert signature("POST", EXAMPLE, "testSecret") != "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_canonicalized_query_sorts_and_encodes_like_the_example() -> None:
    query = canonicalized_query(EXAMPLE)
    assert query.startswith("AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&")
    assert "SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95" in query
    assert "TemplateParam=%7B%22customer%22%3A%22test%22%7D" in query
    assert "Timestamp=2017-07-12T02%3A42%3A19Z" in query
    assert string_to_sign("GET", EXAMPLE).startswith(
        "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML"
    )


def test_percent_encoding_follows_aliyuns_rules() -> None:
    assert percent_encode("a b") == "a%20b"  # not +
    assert percent_encode("*") == "%2A"
    assert percent_encode("~-_.") == "~-_."
    assert percent_encode("/&=+") == "%2F%26%3D%2B"
    assert percent_encode("山") == "%E5%B1%B1"
