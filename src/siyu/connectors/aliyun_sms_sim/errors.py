"""Errors as Aliyun answers them: gateway errors with an HTTP status, business codes with 200."""

from typing import Any

from fastapi.responses import JSONResponse

HOST_ID = "dysmsapi.aliyuncs.com"

# Checked by Aliyun's API gateway before the SMS service sees the call.
GATEWAY: dict[str, tuple[int, str]] = {
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "InvalidAction.NotFound": (
        404,
        "Specified api is not found, please check your url and method.",
    ),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "InvalidSignatureMethod": (400, "Specified signature method is not supported."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
}

# Answered by the SMS service itself, with HTTP 200 (国内消息API错误码).
BUSINESS: dict[str, str] = {
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": "签名和模板类型不一致",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.MOBILE_COUNT_OVER_LIMIT": "手机号码数量超过限制",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板缺少变量",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "传入的变量内容和实际申请模板时变量所选择的属性类型不匹配",
    "isv.PARAM_LENGTH_LIMIT": "参数超出长度限制",
    "isv.INVALID_JSON_PARAM": "JSON参数不合法，只接受字符串值",
    "isv.INVALID_PARAMETERS": "参数异常",
    "isv.BLACK_KEY_CONTROL_LIMIT": "黑名单管控",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.BUSINESS_LIMIT_CONTROL": "业务限流",
    "isp.SYSTEM_ERROR": "系统错误",
}


class ApiError(Exception):
    def __init__(self, code: str, message: str | None = None, *, status: int | None = None) -> None:
        default_status, default_message = GATEWAY.get(code, (200, BUSINESS.get(code, code)))
        self.code = code
        self.message = message or default_message
        self.status = status or default_status
        super().__init__(f"{code}: {self.message}")


def missing(parameter: str) -> ApiError:
    return ApiError(f"Missing{parameter}", f"{parameter} is mandatory for this action.", status=400)


def error_response(error: ApiError, request_id: str) -> JSONResponse:
    body: dict[str, Any] = {"RequestId": request_id, "Code": error.code, "Message": error.message}
    if error.status != 200:
        body["HostId"] = HOST_ID
        body["Recommend"] = f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Dysmsapi"
    return JSONResponse(body, status_code=error.status)
