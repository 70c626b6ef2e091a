"""Every reason code Siyu or its providers produce has a label of its own; open-ended
provider codes fall into their family."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from siyu.connectors.aliyun_sms import errors as sms_errors
from siyu.messaging import wecom
from siyu.messaging.reasons import ReasonLabel, label
from siyu.messaging.schemas import ExclusionReason

SRC = Path(__file__).parents[2] / "src" / "siyu"
# where delivery reasons are made, and the channel whose deliveries get them
PRODUCERS = {
    "connectors/smtp": "email",
    "connectors/webhook": "webhook",
    "connectors/aliyun_sms": "sms",
    "messaging": "wecom",
}
# messaging modules about SMS only
SMS_MODULES = {"receipts.py", "receipt_jobs.py", "sms_in_doubt.py", "hooks.py"}
# codes of success, never a reason
SUCCESS = {"OK", "DELIVERED"}
# the families an unplaced code falls into: a code Siyu makes itself never should
FALLBACKS = {ReasonLabel.OTHER, ReasonLabel.SMS_REFUSED, ReasonLabel.REPORT_OTHER}
# reason codes are passed as these arguments (parameters, dataclass fields) or assigned
# to these attributes
CODE_NAMES = {"code", "reason"}


def _texts(node: ast.expr, names: dict[str, list[ast.expr]]) -> Iterator[str]:
    """The strings an expression can be: constants, f-strings with a number where their
    values go, both branches of `a if c else b`, either side of `or`, and what a local
    name was assigned."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.JoinedStr):
        yield "".join(
            str(part.value) if isinstance(part, ast.Constant) else "500" for part in node.values
        )
    elif isinstance(node, ast.IfExp):
        yield from _texts(node.body, names)
        yield from _texts(node.orelse, names)
    elif isinstance(node, ast.Subscript):  # code[:40]
        yield from _texts(node.value, names)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _texts(value, names)
    elif isinstance(node, ast.Name):
        for value in names.get(node.id, []):
            yield from _texts(value, {})


def _positions(trees: list[ast.Module]) -> dict[str, dict[str, int]]:
    """Function or dataclass name -> position of each of its `code`/`reason` parameters."""
    found: dict[str, dict[str, int]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                params = [a.arg for a in node.args.args]
            elif isinstance(node, ast.ClassDef):
                params = [
                    f.target.id
                    for f in node.body
                    if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)
                ]
            else:
                continue
            found[node.name] = {p: i for i, p in enumerate(params) if p in CODE_NAMES}
    return found


def _assigned(tree: ast.Module) -> dict[str, list[ast.expr]]:
    names: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.setdefault(target.id, []).append(node.value)
    return names


def _assigned_to_reason(node: ast.Assign) -> Iterator[ast.expr]:
    for target in node.targets:
        pairs = (
            zip(target.elts, node.value.elts, strict=True)
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
            else [(target, node.value)]
        )
        for left, right in pairs:
            if getattr(left, "id", getattr(left, "attr", None)) == "reason":
                yield right


def _reasons_in(
    tree: ast.Module, positions: dict[str, dict[str, int]], *, free_reason: bool
) -> Iterator[str]:
    """Codes passed as a `code` (or `reason`) argument or assigned to a `reason`.
    `free_reason`: a `reason` there is free text (a provider's SendOutcome.reason)."""
    wanted = {"code"} if free_reason else CODE_NAMES
    names = _assigned(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            given = [k.value for k in node.keywords if k.arg in wanted]
            at = positions.get(name, {})
            given += [node.args[i] for p, i in at.items() if p in wanted and i < len(node.args)]
            for value in given:
                yield from _texts(value, names)
        elif isinstance(node, ast.Assign) and not free_reason:
            for value in _assigned_to_reason(node):
                yield from _texts(value, names)


def _produced() -> Iterator[tuple[str, str]]:
    """(code, channel) of every reason code written in the source or listed by a provider."""
    trees = {
        path: (
            ast.parse(path.read_text(encoding="utf-8")),
            "sms" if path.name in SMS_MODULES else channel,
            folder == "messaging",
        )
        for folder, channel in PRODUCERS.items()
        for path in sorted((SRC / folder).glob("*.py"))
        if path.name != "reasons.py"  # it reads codes, and its `label(code)` is no setter
    }
    positions = _positions([tree for tree, _, _ in trees.values()])
    for tree, channel, messaging in trees.values():
        for code in _reasons_in(tree, positions, free_reason=not messaging):
            if code not in SUCCESS:
                yield code, channel
    yield from ((reason.value, "wecom") for reason in ExclusionReason)
    yield from ((r, "wecom") for r in [*wecom.RESULT_REASONS.values()])
    yield from ((r, "wecom_group") for r in wecom.GROUP_RESULT_REASONS.values())
    for codes in (
        sms_errors.HINTS,
        sms_errors.RETRYABLE_CODES,
        sms_errors.ACCOUNT_WAITS,
        [c for c in sms_errors.REPORT_MESSAGES if c not in SUCCESS],
        [sms_errors.FLOW_CONTROL, sms_errors.IN_DOUBT, sms_errors.NETWORK, "UNKNOWN"],
    ):
        yield from ((code, "sms") for code in codes)


def test_every_reason_code_siyu_and_its_providers_produce_has_a_label_of_its_own() -> None:
    produced = sorted(set(_produced()))
    # the scan finds the codes it is meant to find
    assert {
        ("smtp_500", "email"),
        ("smtp_disconnected", "email"),
        ("webhook_timeout", "webhook"),
        ("failed", "wecom"),
    } <= set(produced)
    assert {("no_follow", "wecom"), ("dismissed", "wecom"), ("cancelled", "wecom")} <= set(produced)
    unplaced = [(code, channel) for code, channel in produced if label(code, channel) in FALLBACKS]
    assert unplaced == []


@pytest.mark.parametrize(
    ("code", "channel", "expected"),
    [
        ("smtp_451", "email", ReasonLabel.SMTP_4XX),
        ("smtp_550", "email", ReasonLabel.SMTP_5XX),
        ("smtp_354", "email", ReasonLabel.SMTP_BAD_REPLY),
        ("http_429", "webhook", ReasonLabel.HTTP_429),
        ("http_503", "webhook", ReasonLabel.HTTP_5XX),
        ("http_404", "webhook", ReasonLabel.HTTP_4XX),
        ("http_301", "webhook", ReasonLabel.HTTP_3XX),
        ("wecom_41001", "wecom", ReasonLabel.WECOM_ERROR),
        ("wecom_quota", "wecom_group", ReasonLabel.WECOM_QUOTA),
        ("isv.BUSINESS_LIMIT_CONTROL", "sms", ReasonLabel.SMS_FLOW_CONTROL),
        ("isv.AMOUNT_NOT_ENOUGH", "sms", ReasonLabel.SMS_NO_BALANCE),
        ("Throttling.User", "sms", ReasonLabel.SMS_THROTTLED),
        ("in_doubt", "sms", ReasonLabel.IN_DOUBT),
        ("HTTP 502", "sms", ReasonLabel.SMS_PROVIDER_ERROR),
        ("HTTP 400", "sms", ReasonLabel.SMS_REFUSED),
        ("isv.SOMETHING_NEW", "sms", ReasonLabel.SMS_REFUSED),
        ("MOBILE_IN_BLACK", "sms", ReasonLabel.MOBILE_IN_BLACK),
        ("MK:0001", "sms", ReasonLabel.REPORT_OTHER),
        ("UNDELIV", "sms", ReasonLabel.REPORT_OTHER),
        ("opted_out", "sms", ReasonLabel.OPTED_OUT),
        ("something_new", "email", ReasonLabel.OTHER),
        (None, "email", ReasonLabel.UNKNOWN),
    ],
)
def test_a_code_is_labelled_itself_or_by_its_family(
    code: str | None, channel: str, expected: ReasonLabel
) -> None:
    assert label(code, channel) is expected
