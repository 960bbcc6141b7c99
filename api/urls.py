from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView

from . import views


class IdConverter:
    """A positive id the database can hold (up to 18 digits): larger numbers are a 404, not an
    overflow error in the database driver."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")

app_name = "api"

urlpatterns = [
    path("v1/leads/", views.LeadListCreate.as_view(), name="leads"),
    path("v1/leads/<id:pk>/", views.LeadDetail.as_view(), name="lead_detail"),
    path("v1/leads/<id:pk>/stage/", views.LeadStage.as_view(), name="lead_stage"),
    path("v1/leads/<id:pk>/activities/", views.LeadActivities.as_view(), name="lead_activities"),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", views.api_docs, name="docs"),
]

if views.followup_model() is not None:
    urlpatterns.append(path("v1/followups/", views.FollowUpList.as_view(), name="followups"))

# Anything else under /api/ answers a JSON 404 (must stay last).
urlpatterns.append(path("<path:path>", views.not_found))
