from __future__ import annotations

import json

from rest_framework import exceptions, parsers, status

MAX_BODY_BYTES = 256 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 1024} KB."
    default_code = "too_large"


class StrictJSONParser(parsers.JSONParser):
    """JSON with a size limit, refusing text the database cannot store (lone UTF-16 surrogates
    such as "\\ud800" are valid JSON but not valid UTF-8): a 400, never a 500 further down."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError("The body contains text that is not valid Unicode.") from None
        return data
