from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from . import services
from .models import CriteriaRule, CriteriaVersion, DiscoveryCall, DisqualificationReason, HelpfulClose
from .selectors import criteria_current

RULE_FIELDS = ["kind", "required", "points", "min_amount", "currency", "max_days"]


class CriteriaRuleFormSet(forms.BaseInlineFormSet):
    """The checks criteria_publish makes across rules, run while the admin form can still show
    them (so publishing in save_related cannot fail on them)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not rows:
            raise ValidationError(services.MSG_NO_RULES)
        kinds = [r["kind"] for r in rows]
        if len(set(kinds)) != len(kinds):
            raise ValidationError(services.MSG_DUPLICATE_KIND)
        max_score = sum(r.get("points") or 0 for r in rows if not r.get("required"))
        threshold = self.instance.threshold or 0
        if threshold > max_score:
            raise ValidationError(services.MSG_THRESHOLD_UNREACHABLE.format(max=services.points_text(max_score)))


class CriteriaRuleInline(admin.TabularInline):
    model = CriteriaRule
    formset = CriteriaRuleFormSet
    fields = RULE_FIELDS
    max_num = len(CriteriaRule.Kind.values)
    can_delete = False

    def get_extra(self, request, obj=None, **kwargs):
        # Adding: one row per rule of the current version (pre-filled), plus room for the rest.
        return len(CriteriaRule.Kind.values) if obj is None else 0

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        # Versions are immutable: rules are only written with a new version.
        return obj is None and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CriteriaVersion)
class CriteriaVersionAdmin(admin.ModelAdmin):
    """Adding a version here publishes it through criteria_publish, like the settings page;
    existing versions are read-only (decisions point at them)."""

    list_display = ["number", "is_current", "threshold", "created_by", "created_at", "note"]
    list_select_related = ["created_by"]
    inlines = [CriteriaRuleInline]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["threshold", "note"]
        return ["number", "is_current", "threshold", "note", "created_by", "created_at"]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        # Start a new version from the current one. Only on GET: on POST, Django would treat
        # rows equal to their initial values as untouched and drop them.
        if request.method == "GET" and obj is not None and obj.pk is None:
            current = criteria_current()
            if current is not None:
                kwargs["initial"] = [
                    {
                        "kind": r.kind,
                        "required": r.required,
                        "points": r.points,
                        "min_amount": r.min_amount,
                        "currency": r.currency,
                        "max_days": r.max_days,
                    }
                    for r in current.rules
                ]
        return kwargs

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        current = criteria_current()
        if current is not None:
            initial.setdefault("threshold", current.threshold)
        return initial

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Nothing is written here: the version and its rules are published together, through
        # the service, in save_related (which has the rules).
        pass

    def save_related(self, request, form, formsets, change):
        rules = []
        for formset in formsets:
            rules += [
                {name: f.cleaned_data.get(name) for name in RULE_FIELDS}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            # What the admin's change message reads; the rules are logged with the version.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        version = services.criteria_publish(
            by=request.user, threshold=form.cleaned_data["threshold"], rules=rules, note=form.cleaned_data["note"]
        )
        # The admin logs the addition and redirects using form.instance: make it the published row.
        form.instance.__dict__.update({k: v for k, v in version.__dict__.items() if k != "_state"})
        form.instance._state.adding = False


@admin.register(DiscoveryCall)
class DiscoveryCallAdmin(admin.ModelAdmin):
    list_display = [
        "lead",
        "held_at",
        "held_by",
        "budget_status",
        "timeline_status",
        "next_step_at",
        "criteria_version",
    ]
    list_filter = ["budget_status", "timeline_status", "problem_confirmed"]
    search_fields = ["lead__name", "problem", "notes"]
    list_select_related = ["lead", "held_by", "criteria_version"]
    raw_id_fields = ["lead"]
    date_hierarchy = "held_at"

    def has_add_permission(self, request):
        # Calls are recorded on the call page (call_record: validation, activity, follow-up).
        return False


@admin.register(DisqualificationReason)
class DisqualificationReasonAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "needs_text", "creates_helpful_close", "is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["label", "code"]

    def get_readonly_fields(self, request, obj=None):
        # Reports group by the code: it is set once.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Past disqualifications point at their reason: retire it with "is active" instead.
        return False

    def save_model(self, request, obj, form, change):
        services.reason_save(reason=obj)


@admin.register(HelpfulClose)
class HelpfulCloseAdmin(admin.ModelAdmin):
    list_display = ["lead", "owner", "reason", "created_at", "sent_at"]
    list_filter = ["reason", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["lead__name", "body"]
    list_select_related = ["lead", "owner", "reason"]
    raw_id_fields = ["lead", "owner", "stage_change"]

    def has_add_permission(self, request):
        return False
