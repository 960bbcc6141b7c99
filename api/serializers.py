"""Serializers validate and convert only; the views call the same services as the HTML pages."""

from __future__ import annotations

from rest_framework import serializers

from leadflow.precompiled import MAX_ID
from leads.models import Activity, Lead, LeadSource, StageChange
from leads.selectors import STAGE_FILTER_ALL, STAGE_FILTER_OPEN
from qualification.models import DisqualificationReason


class StageChangeSerializer(serializers.ModelSerializer):
    changed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = StageChange
        fields = ["from_stage", "to_stage", "changed_at", "changed_by", "changed_by_name", "reason", "is_override"]

    def get_changed_by_name(self, obj: StageChange) -> str | None:
        return str(obj.changed_by) if obj.changed_by_id else None


class _LeadListSerializer(serializers.ListSerializer):
    """Many leads, each as LeadSerializer gives it, written out field by field: DRF's per-field
    machinery took ~1.5 ms for a page of 25, as much CPU as the rest of the API list request.
    The schema still comes from LeadSerializer's fields; tests compare the two outputs. The
    leads are Lead instances or QueueRows (the list read along indexes), which have all of these."""

    def to_representation(self, data):
        when = serializers.DateTimeField().to_representation  # DRF's ISO 8601 in the current zone
        return [
            {
                "id": lead.pk,
                "name": lead.name,
                "email": lead.email,
                "phone": lead.phone,
                "company": lead.company,
                "title": lead.title,
                "stage": lead.stage,
                "source": lead.source_id,
                "source_name": lead.source.name,
                "owner": lead.owner_id,
                "owner_name": str(lead.owner) if lead.owner_id else None,
                "team": lead.team_id,
                "received_at": when(lead.received_at),
                "first_contacted_at": when(lead.first_contacted_at),
                "last_touched_at": when(lead.last_touched_at),
                "possible_duplicate_of": lead.possible_duplicate_of_id,
            }
            for lead in data
        ]


class LeadSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    owner_name = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        list_serializer_class = _LeadListSerializer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "company",
            "title",
            "stage",
            "source",
            "source_name",
            "owner",
            "owner_name",
            "team",
            "received_at",
            "first_contacted_at",
            "last_touched_at",
            "possible_duplicate_of",
        ]
        read_only_fields = fields

    def get_owner_name(self, obj: Lead) -> str | None:
        return str(obj.owner) if obj.owner_id else None


class LeadDetailSerializer(LeadSerializer):
    stage_history = StageChangeSerializer(source="stage_changes", many=True, read_only=True)

    class Meta(LeadSerializer.Meta):
        list_serializer_class = serializers.ListSerializer
        fields = [*LeadSerializer.Meta.fields, "referred_by", "notes", "stage_history"]
        read_only_fields = fields


class LeadCreateSerializer(serializers.Serializer):
    """A new lead. Email or phone is required; the rest as on the web form. `team` may be left
    out when you belong to one team; `owner` only by managers (otherwise: reps get the lead
    themselves, managers' leads are shared out by the team's assignment rule)."""

    name = serializers.CharField(max_length=200)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    referred_by = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    notes = serializers.CharField(
        max_length=10_000, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    source = serializers.PrimaryKeyRelatedField(queryset=LeadSource.objects.filter(is_active=True))
    team = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    owner = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class IntakeResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["created", "flagged", "attached"],
        help_text="created: a new lead; flagged: a new lead that looks like a known one; attached: the "
        "person is known, the post was added to their lead as a new inquiry.",
    )
    lead = LeadDetailSerializer(allow_null=True, help_text="The lead, or null when it is not one you can see.")


class StageMoveSerializer(serializers.Serializer):
    """What `lead_change_stage` takes: the same rules as the lead page's stage form."""

    to_stage = serializers.ChoiceField(choices=Lead.Stage.choices)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    override = serializers.BooleanField(
        required=False,
        default=False,
        help_text="lead → prospect although the latest discovery call does not pass (managers; a reason is required).",
    )
    disqualification_reason = serializers.SlugRelatedField(
        slug_field="code",
        queryset=DisqualificationReason.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        default=None,
        help_text="Code of a listed disqualification reason; required for → disqualified.",
    )
    nurture_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When a nurtured lead comes back to its owner (default: the follow-up policy's period).",
    )


class ActivityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    outcome = serializers.CharField(max_length=500)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ActivitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Activity
        fields = ["id", "lead", "kind", "outcome", "occurred_at", "created_by", "created_at"]
        read_only_fields = fields


class _QueryInteger(serializers.IntegerField):
    """A number in the query string: `?source=` (blank) is an error, not the same as leaving it out."""

    def get_value(self, dictionary):
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


class LeadFilterSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    stage = serializers.ChoiceField(
        choices=[STAGE_FILTER_OPEN, *Lead.Stage.values, STAGE_FILTER_ALL],
        required=False,
        allow_blank=True,
        default=STAGE_FILTER_OPEN,
        help_text="open (the default: lead and prospect), all, or one stage.",
    )
    source = _QueryInteger(min_value=1, max_value=MAX_ID, required=False)
    owner = _QueryInteger(min_value=1, max_value=MAX_ID, required=False)
