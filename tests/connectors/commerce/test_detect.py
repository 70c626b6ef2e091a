import pytest

from siyu.connectors.commerce import REQUIRED_TARGETS, Platform
from siyu.connectors.commerce.detect import detect_platform, format_for
from tests.connectors.commerce.samples import SAMPLES


@pytest.mark.parametrize("platform", sorted(SAMPLES))
def test_each_platform_is_recognised_from_its_header_row(platform: str) -> None:
    assert detect_platform(SAMPLES[platform].headers) == Platform(platform)


@pytest.mark.parametrize("platform", sorted(SAMPLES))
def test_suggested_mapping_covers_every_required_field(platform: str) -> None:
    sample = SAMPLES[platform]

    mapping = format_for(platform).suggest_mapping(sample.headers)

    assert all(target in mapping for target in REQUIRED_TARGETS)
    assert all(header in sample.headers for header in mapping.values())


def test_headers_of_no_known_export_are_not_guessed() -> None:
    assert detect_platform(["id", "amount", "date"]) is None
    assert detect_platform(["订单号", "金额"]) is None


def test_taobao_files_use_the_tmall_report_format() -> None:
    assert format_for(Platform.TAOBAO) is format_for(Platform.TMALL)


def test_full_width_brackets_in_headers_do_not_hide_the_platform() -> None:
    headers = [h.replace("(", "（").replace(")", "）") for h in SAMPLES["pdd"].headers]

    assert detect_platform(headers) == Platform.PDD
    assert format_for(Platform.PDD).suggest_mapping(headers)["paid"] == "用户实付金额（元）"
