"""Currencies a budget can be given in (ISO 4217 codes).

Amounts are stored as a Decimal plus the currency code. We never convert between currencies:
a budget in another currency than the criteria's minimum fails that rule with a sentence that
says so, and the rep asks for the figure in the criteria's currency (see evaluation.py).
"""

from __future__ import annotations

from decimal import Decimal

CURRENCIES = [
    ("EUR", "EUR — euro"),
    ("USD", "USD — US dollar"),
    ("GBP", "GBP — pound sterling"),
    ("CHF", "CHF — Swiss franc"),
    ("CAD", "CAD — Canadian dollar"),
    ("AUD", "AUD — Australian dollar"),
    ("NZD", "NZD — New Zealand dollar"),
    ("SEK", "SEK — Swedish krona"),
    ("NOK", "NOK — Norwegian krone"),
    ("DKK", "DKK — Danish krone"),
    ("PLN", "PLN — Polish złoty"),
    ("CZK", "CZK — Czech koruna"),
    ("JPY", "JPY — Japanese yen"),
    ("SGD", "SGD — Singapore dollar"),
    ("INR", "INR — Indian rupee"),
    ("BRL", "BRL — Brazilian real"),
    ("MXN", "MXN — Mexican peso"),
    ("ZAR", "ZAR — South African rand"),
]
CURRENCY_CODES = frozenset(code for code, _ in CURRENCIES)


def format_money(amount: Decimal, currency: str) -> str:
    """“4,000 EUR”, “1,250.50 USD”: thousands separators, cents only when there are any."""
    if amount == amount.to_integral_value():
        return f"{amount:,.0f} {currency}"
    return f"{amount:,.2f} {currency}"
