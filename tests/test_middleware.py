"""leadflow.middleware.CSPMiddleware: django-csp's headers, the plain policy built once."""

from __future__ import annotations

from csp.constants import NONCE, SELF
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from leadflow.middleware import CSPMiddleware

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _headers(middleware_class, response_attrs=None, path="/leads/"):
    middleware = middleware_class(lambda request: None)
    request = RequestFactory().get(path)
    middleware.process_request(request)
    response = HttpResponse("ok")
    for name, value in (response_attrs or {}).items():
        setattr(response, name, value)
    middleware.process_response(request, response)
    return {h: response.get(h) for h in HEADERS}


def _directives(header):
    return sorted(header.split("; ")) if header else header


def test_a_plain_response_gets_the_same_policy_as_from_django_csp():
    ours, theirs = _headers(CSPMiddleware), _headers(DjangoCSPMiddleware)
    assert ours["Content-Security-Policy"] and ours["Content-Security-Policy-Report-Only"] is None
    assert {h: _directives(v) for h, v in ours.items()} == {h: _directives(v) for h, v in theirs.items()}


def test_the_header_is_built_once_and_again_when_the_setting_changes(settings):
    middleware = CSPMiddleware(lambda request: None)
    request = RequestFactory().get("/")
    first, second = HttpResponse(), HttpResponse()
    middleware.process_response(request, first)
    middleware.process_response(request, second)
    assert first["Content-Security-Policy"] is second["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "img-src": ["https://img.example"]}}
    third = HttpResponse()
    middleware.process_response(request, third)
    assert "img-src https://img.example" in third["Content-Security-Policy"]


def test_report_only_and_excluded_prefixes_are_honoured(settings):
    settings.CONTENT_SECURITY_POLICY = {"EXCLUDE_URL_PREFIXES": ["/f/"], "DIRECTIVES": {"default-src": [SELF]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": [SELF], "report-uri": "/csp"}}
    for middleware_class in (CSPMiddleware, DjangoCSPMiddleware):
        excluded = _headers(middleware_class, path="/f/form/")
        assert excluded["Content-Security-Policy"] is None
        assert excluded["Content-Security-Policy-Report-Only"] == "default-src 'self'; report-uri /csp"


def test_exempt_and_per_view_policies_go_as_django_csp_has_them():
    exempt = {"_csp_exempt": True}
    assert _headers(CSPMiddleware, exempt) == _headers(DjangoCSPMiddleware, exempt)
    assert _headers(CSPMiddleware, exempt)["Content-Security-Policy"] is None
    update = {"_csp_update": {"img-src": ["https://img.example"]}}
    ours = _headers(CSPMiddleware, update)["Content-Security-Policy"]
    assert "img-src 'self' data: https://img.example" in ours
    assert _directives(ours) == _directives(_headers(DjangoCSPMiddleware, update)["Content-Security-Policy"])


def test_a_page_that_used_a_nonce_gets_it_in_its_header(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}}
    middleware = CSPMiddleware(lambda request: None)
    middleware.process_response(RequestFactory().get("/"), HttpResponse())  # the plain header, built
    request = RequestFactory().get("/")
    middleware.process_request(request)
    nonce = str(request.csp_nonce)
    response = middleware.process_response(request, HttpResponse())
    assert f"script-src 'self' 'nonce-{nonce}'" in response["Content-Security-Policy"]
