"""Recognise an export's platform from its header row."""

from siyu.connectors.commerce import Platform, PlatformFormat
from siyu.connectors.commerce.douyin import DOUYIN
from siyu.connectors.commerce.generic import GENERIC
from siyu.connectors.commerce.jd import JD
from siyu.connectors.commerce.pdd import PDD
from siyu.connectors.commerce.tmall import TMALL
from siyu.connectors.commerce.youzan import YOUZAN

FORMATS: dict[Platform, PlatformFormat] = {
    Platform.TMALL: TMALL,
    # Taobao and Tmall sellers download the same 订单报表.
    Platform.TAOBAO: TMALL,
    Platform.JD: JD,
    Platform.PDD: PDD,
    Platform.YOUZAN: YOUZAN,
    Platform.DOUYIN: DOUYIN,
    Platform.GENERIC: GENERIC,
}
_CANDIDATES = (TMALL, JD, PDD, YOUZAN, DOUYIN, GENERIC)


def format_for(platform: Platform | str) -> PlatformFormat:
    return FORMATS[Platform(platform)]


def _plain(header: str) -> str:
    """Exports differ in full-width versus ASCII brackets: 金额（元） is 金额(元)."""
    return header.strip().replace("（", "(").replace("）", ")")


def detect_platform(headers: list[str]) -> Platform | None:
    """The platform whose signature headers are all present; ties go to the best coverage."""
    present = {_plain(h) for h in headers}
    best: tuple[int, Platform] | None = None
    for fmt in _CANDIDATES:
        if not all(_plain(h) in present for h in fmt.signature):
            continue
        covered = len(fmt.suggest_mapping(list(headers)))
        if best is None or covered > best[0]:
            best = (covered, fmt.platform)
    return best[1] if best else None
