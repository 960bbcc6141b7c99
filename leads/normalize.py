"""Normalising contact data, so the same person typed two ways is found as one."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

INVALID_PHONE = (
    "Enter a valid phone number, e.g. +1 415 555 0100 (a leading + and the country code if not in the {region})."
)


def normalize_email(value: str) -> str:
    """Lower-case the whole address. Mail servers treat local parts case-insensitively in practice,
    and a rep typing Ana@Example.com must find ana@example.com."""
    return (value or "").strip().lower()


def normalize_phone(value: str) -> str:
    """Return the number in E.164 (+14155550100), or "" for blank. Raises ValidationError."""
    value = (value or "").strip()
    if not value:
        return ""
    region = settings.PHONE_DEFAULT_REGION
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(INVALID_PHONE.format(region=region), code="invalid_phone") from None
    if not phonenumbers.is_possible_number(number) or not phonenumbers.is_valid_number(number):
        raise ValidationError(INVALID_PHONE.format(region=region), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(value: str) -> str:
    """E.164 to a readable international form, for display."""
    if not value:
        return ""
    try:
        return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value
