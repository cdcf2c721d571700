"""Request body parsers of the API with limits on what a client may send.

DRF reads the request stream itself, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE
check, and Python's JSON decoder fails with RecursionError (a 500) on a
body nested a few thousand levels deep. These parsers refuse both: a body
over the size cap is a 413, nesting over JSON_MAX_DEPTH a 400."""

import json

from django.conf import settings
from django.http import QueryDict
from django.http.request import RequestDataTooBig
from rest_framework import exceptions, parsers, status

JSON_MAX_DEPTH = 32


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def body_limit() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"The request body is over {body_limit()} bytes; send less data in one request."
    )


def read_capped(stream, parser_context: dict | None) -> bytes:
    """The whole body, or a 413 once it passes the cap (whether or not the
    client declared its length)."""
    limit = body_limit()
    request = (parser_context or {}).get("request")
    declared = request.META.get("CONTENT_LENGTH") if request is not None else None
    try:
        if declared and int(declared) > limit:
            raise too_large()
    except ValueError:
        pass
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise too_large()
    return body


def nesting_depth(value) -> int:
    """How deep lists and objects nest (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > JSON_MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"The JSON body nests more than {JSON_MAX_DEPTH} levels deep; flatten it.",
        code="json_too_deep",
    )


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the body size cap and a nesting limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        body = read_capped(stream, parser_context)
        # Cheap bound first: a body with few brackets cannot nest deeply.
        could_be_deep = body.count(b"[") + body.count(b"{") > JSON_MAX_DEPTH
        try:
            data = json.loads(body.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise too_deep() from None
        except ValueError as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None
        if could_be_deep and nesting_depth(data) > JSON_MAX_DEPTH:
            raise too_deep()
        return data


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON; DRF's strict parser refuses them too.
    raise ValueError(f"Out of range float values are not JSON compliant: {name}")


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        return QueryDict(read_capped(stream, parser_context), encoding=encoding)


def upload_limit() -> int:
    return settings.UPLOAD_REQUEST_MAX_BYTES


class MultiPartParser(parsers.MultiPartParser):
    """Files may be larger than the JSON cap (UPLOAD_REQUEST_MAX_BYTES);
    the form fields beside them are held to DATA_UPLOAD_MAX_MEMORY_SIZE by
    Django itself."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > upload_limit():
            raise RequestTooLarge(
                f"The upload is over {upload_limit()} bytes; send a smaller file."
            )
        try:
            return self.parse_multipart(stream, media_type, parser_context)
        except RequestDataTooBig:
            raise too_large() from None

    def parse_multipart(self, stream, media_type=None, parser_context=None):
        return super().parse(stream, media_type, parser_context)
