"""django-csp's middleware, with the policy header built once instead of on every response."""

from __future__ import annotations

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

# (header, setting, the response attribute exempting it, report-only)
_HEADERS = (
    (HEADER, "CONTENT_SECURITY_POLICY", "_csp_exempt", False),
    (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", "_csp_exempt_ro", True),
)
# What a view's @csp, @csp_update or @csp_replace leaves on its response.
_PER_VIEW = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


class CSPMiddleware(DjangoCSPMiddleware):
    """django-csp's CSPMiddleware, reusing the header it built from the settings.

    django-csp builds the header on every response (its policy parts turned into a dict, each
    directive copied, deduplicated and joined): ~90 µs of CPU, half of what the whole middleware
    stack costs the public form's post. A response without a per-view policy (@csp, @csp_update,
    @csp_replace: none in LeadFlow so far) and without a nonce (no page has inline script) gets
    the same header every time, so it is built once per settings value here (the setting's
    object: override_settings gives a new one). Such a response gets the same headers as from
    django-csp; any other one, and every response with DEBUG on, goes through django-csp itself.
    """

    def __init__(self, get_response):
        super().__init__(get_response)
        self._built: dict[bool, tuple[object, str]] = {}

    def _policy(self, setting: object, report_only: bool) -> str:
        built = self._built.get(report_only)
        if built is None or built[0] is not setting:
            built = self._built[report_only] = (setting, build_policy(report_only=report_only))
        return built[1]

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        plain = getattr(request, "_csp_nonce", None) is None and not any(hasattr(response, a) for a in _PER_VIEW)
        if settings.DEBUG or not plain:
            return super().process_response(request, response)
        for header, setting_name, exempt, report_only in _HEADERS:
            setting = getattr(settings, setting_name, None)
            policy = self._policy(setting, report_only)
            prefixes = (setting or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            excluded = request.path_info.startswith(tuple(prefixes))
            if policy and header not in response and not getattr(response, exempt, False) and not excluded:
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
