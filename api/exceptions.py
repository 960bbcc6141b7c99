from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def to_api_error(error: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as DRF's 400 body: {"field": ["message"]}."""
    if hasattr(error, "error_dict"):
        detail = {("non_field_errors" if f == "__all__" else f): msgs for f, msgs in error.message_dict.items()}
    else:
        detail = {"non_field_errors": error.messages}
    return exceptions.ValidationError(detail)


def exception_handler(exc, context):
    """DRF's handler, plus a domain ValidationError (raised by a service) answered as a 400."""
    if isinstance(exc, DjangoValidationError):
        exc = to_api_error(exc)
    return drf_exception_handler(exc, context)
