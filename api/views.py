from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from intake.services import import_teams_for
from leads import selectors, services
from leads.models import Channel, Lead, StageChange

from .exceptions import to_api_error
from .serializers import (
    ActivityCreateSerializer,
    ActivitySerializer,
    IntakeResultSerializer,
    LeadCreateSerializer,
    LeadDetailSerializer,
    LeadFilterSerializer,
    LeadSerializer,
    StageMoveSerializer,
)

MSG_TEAM_CHOOSE = "Say which team the lead goes to (you can add leads to {n} teams)."
MSG_TEAM_SCOPE = "You cannot add leads to this team."
MSG_OWNER_NOT_ALLOWED = "Only managers choose the owner; leave it out."
MSG_OWNER_UNKNOWN = "No such user."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _visible_lead(request, pk: int, *, detail: bool = False) -> Lead:
    """The lead if the user may see it (the UI's rule); 404 otherwise, so nothing leaks."""
    q = Lead.objects.visible_to(request.user).select_related("source", "owner", "team")
    if detail:
        q = q.prefetch_related(
            Prefetch(
                "stage_changes", queryset=StageChange.objects.select_related("changed_by").order_by("changed_at", "id")
            )
        )
    return get_object_or_404(q, pk=pk)


def _live_lead(request, pk: int) -> Lead:
    lead = _visible_lead(request, pk)
    if lead.merged_into_id:
        raise Conflict(f"This lead was merged into lead {lead.merged_into_id}; act on that one.")
    return lead


ID_PARAM = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The lead's id.")


class LeadListCreate(generics.GenericAPIView):
    serializer_class = LeadSerializer

    @extend_schema(
        summary="List leads",
        description="The leads you can see (yours; your teams' as a manager; all as an admin), what needs "
        "you first: uncontacted oldest first, then least recently touched. Paginated.",
        parameters=[LeadFilterSerializer],
        responses={
            200: LeadSerializer(many=True),
            400: OpenApiResponse(description="A filter is invalid."),
            404: OpenApiResponse(description="No such page."),
        },
    )
    def get(self, request):
        params = LeadFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        filters = selectors.LeadFilters(
            q=data["q"],
            stage=data["stage"] or selectors.STAGE_FILTER_OPEN,
            source_id=data.get("source"),
            owner_id=data.get("owner"),
        )
        # Plain rows (QueueRows) where the list is read along indexes: what the serializer
        # writes out, without making Lead instances with their source, owner and clock.
        q = selectors.lead_list_needing_attention(user=request.user, filters=filters, plain=True)
        page = self.paginate_queryset(q)
        return self.get_paginated_response(LeadSerializer(page, many=True).data)

    @extend_schema(
        summary="Create a lead",
        description="The same validation, duplicate check and assignment as the web form. A person we "
        "already know becomes a new inquiry on their lead (or a flagged new lead, by the admin's policy).",
        request=LeadCreateSerializer,
        responses={
            201: IntakeResultSerializer,
            200: OpenApiResponse(IntakeResultSerializer, description="Attached to a known lead as a new inquiry."),
            400: OpenApiResponse(description="Field errors: {field: [messages]}."),
            403: OpenApiResponse(description="You cannot add leads."),
        },
    )
    def post(self, request):
        if not request.user.has_perm("leads.add_lead"):
            raise exceptions.PermissionDenied()
        ser = LeadCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        team = self._team(request.user, data.pop("team", None))
        owner = self._owner(request.user, data.pop("owner", None))
        source = data.pop("source")
        try:
            result = services.lead_intake(
                channel=Channel.API, data=data, source=source, by=request.user, team=team, owner=owner, context="API"
            )
        except ValidationError as e:
            raise to_api_error(e) from None
        lead = Lead.objects.visible_to(request.user).filter(pk=result.lead.pk).first()
        if lead is not None:
            lead = _visible_lead(request, lead.pk, detail=True)
        body = {"outcome": result.outcome, "lead": LeadDetailSerializer(lead).data if lead else None}
        created = result.outcome != services.IntakeOutcome.ATTACHED
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def _team(self, user: User, team_id: int | None):
        teams = import_teams_for(user)
        if team_id is None:
            only = list(teams[:2])
            if len(only) != 1:
                raise exceptions.ValidationError({"team": [MSG_TEAM_CHOOSE.format(n=teams.count())]})
            return only[0]
        team = teams.filter(pk=team_id).first()
        if team is None:
            raise exceptions.ValidationError({"team": [MSG_TEAM_SCOPE]})
        return team

    def _owner(self, user: User, owner_id: int | None) -> User | None:
        if owner_id is None:
            # Like the "New lead" page: a rep keeps the lead; a manager's is shared out by the rule.
            return None if user.has_perm("leads.reassign_lead") else user
        if not user.has_perm("leads.reassign_lead"):
            raise exceptions.ValidationError({"owner": [MSG_OWNER_NOT_ALLOWED]})
        owner = User.objects.filter(pk=owner_id, is_active=True).first()
        if owner is None:
            raise exceptions.ValidationError({"owner": [MSG_OWNER_UNKNOWN]})
        return owner


class LeadDetail(APIView):
    @extend_schema(
        summary="Read a lead",
        description="With its stage history, oldest first. A merged-away lead answers with a redirect to its survivor.",
        parameters=[ID_PARAM],
        responses={
            200: LeadDetailSerializer,
            301: OpenApiResponse(description="Merged into another lead (Location)."),
            404: OpenApiResponse(description="No such lead, or not one you can see."),
        },
    )
    def get(self, request, pk: int):
        lead = _visible_lead(request, pk, detail=True)
        if lead.merged_into_id:
            response = Response(status=status.HTTP_301_MOVED_PERMANENTLY)
            response["Location"] = reverse("api:lead_detail", args=[lead.merged_into_id])
            return response
        return Response(LeadDetailSerializer(lead).data)


class LeadStage(APIView):
    @extend_schema(
        summary="Move a lead to another stage",
        description="Through the same rules as the app: the allowed moves, a reason where one is "
        "required, and the prospect gate.",
        parameters=[ID_PARAM],
        request=StageMoveSerializer,
        responses={
            200: LeadDetailSerializer,
            400: OpenApiResponse(description="The move is not allowed, or a reason is missing."),
            404: OpenApiResponse(description="No such lead, or not one you can see."),
            409: OpenApiResponse(description="The lead was merged into another one."),
        },
    )
    def post(self, request, pk: int):
        lead = _live_lead(request, pk)
        ser = StageMoveSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            services.lead_change_stage(lead=lead, by=request.user, **ser.validated_data)
        except ValidationError as e:
            raise to_api_error(e) from None
        return Response(LeadDetailSerializer(_visible_lead(request, pk, detail=True)).data)


class LeadActivities(APIView):
    @extend_schema(
        summary="Log an activity",
        description="A call, email or meeting (each counts as contact and stops the speed-to-lead clock) or an internal note.",
        parameters=[ID_PARAM],
        request=ActivityCreateSerializer,
        responses={
            201: ActivitySerializer,
            400: OpenApiResponse(description="Field errors."),
            404: OpenApiResponse(description="No such lead, or not one you can see."),
            409: OpenApiResponse(description="The lead was merged into another one."),
        },
    )
    def post(self, request, pk: int):
        lead = _live_lead(request, pk)
        ser = ActivityCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        try:
            activity = services.activity_log(
                lead=lead, by=request.user, kind=data["kind"], outcome=data["outcome"], occurred_at=data["occurred_at"]
            )
        except ValidationError as e:
            raise to_api_error(e) from None
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


def followup_model():
    """The follow-ups app's FollowUp model once it exists (built on another branch), else None."""
    try:
        return apps.get_model("followups", "FollowUp")
    except LookupError:
        return None


class FollowUpList(generics.GenericAPIView):
    """Follow-ups of the leads you can see, soonest due first. Registered only when the
    follow-ups app has its FollowUp model (see api/urls.py)."""

    @extend_schema(summary="List follow-ups", responses={200: OpenApiResponse(description="A page of follow-ups.")})
    def get(self, request):
        from rest_framework import serializers

        model = followup_model()

        class FollowUpSerializer(serializers.ModelSerializer):
            class Meta:
                fields = "__all__"

        FollowUpSerializer.Meta.model = model
        leads = Lead.objects.visible_to(request.user).values("pk")
        q = model.objects.filter(lead__in=leads).order_by(*(["due_at", "id"] if hasattr(model, "due_at") else ["id"]))
        page = self.paginate_queryset(q)
        return self.get_paginated_response(FollowUpSerializer(page, many=True).data)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown addresses under /api/ answer in JSON too."""
    return JsonResponse({"detail": "Not found."}, status=404)


# --- The documentation page: the served schema, rendered on the server (no CDN, no script) ------


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if ref:
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return node or {}


def _type_of(schema: dict, prop: dict) -> str:
    if "$ref" in prop:
        target = _resolve(schema, prop)
        if "enum" in target:
            return "one of " + ", ".join(str(v) for v in target["enum"] if v not in ("", None))
        return prop["$ref"].rsplit("/", 1)[1]
    if "allOf" in prop:
        return _type_of(schema, prop["allOf"][0])
    if "oneOf" in prop:
        return " or ".join(_type_of(schema, p) for p in prop["oneOf"])
    kind = prop.get("type", "object")
    if kind == "array":
        return f"list of {_type_of(schema, prop.get('items', {}))}"
    if "enum" in prop:
        return "one of " + ", ".join(str(v) for v in prop["enum"] if v not in ("", None))
    return kind + (f" ({prop['format']})" if "format" in prop else "")


def _fields(schema: dict, node: dict) -> list[dict]:
    target = _resolve(schema, node)
    required = set(target.get("required", []))
    rows = []
    for name, prop in target.get("properties", {}).items():
        limits = [f"max {prop['maxLength']} characters"] if "maxLength" in prop else []
        rows.append(
            {
                "name": name,
                "type": _type_of(schema, prop),
                "required": name in required,
                "read_only": prop.get("readOnly", False),
                "notes": "; ".join([*(limits), prop.get("description", "")]).strip("; "),
            }
        )
    return rows


def api_docs(request: HttpRequest) -> HttpResponse:
    """The API reference page, built from the same OpenAPI schema the app serves."""
    schema = SchemaGenerator(patterns=None).get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, resp in op.get("responses", {}).items():
                content = resp.get("content", {}).get("application/json", {}).get("schema")
                responses.append(
                    {
                        "code": code,
                        "description": resp.get("description", ""),
                        "fields": _fields(schema, content) if content and "$ref" in content else [],
                    }
                )
            operations.append(
                {
                    "anchor": op.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": _type_of(schema, p.get("schema", {})),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _fields(schema, body) if body else [],
                    "responses": responses,
                }
            )
    ctx = {"info": schema["info"], "operations": operations, "schema_url": reverse("api:schema")}
    return render(request, "api/docs.html", ctx)
