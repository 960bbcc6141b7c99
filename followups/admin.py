from __future__ import annotations

from django.contrib import admin

from .models import Cadence, CadenceStep, FollowUp, FollowUpPolicy, Notification, SlaClock


class CadenceStepInline(admin.TabularInline):
    model = CadenceStep
    extra = 1
    fields = ["offset", "unit", "kind", "instruction"]


@admin.register(Cadence)
class CadenceAdmin(admin.ModelAdmin):
    list_display = ["name", "stage", "is_active"]
    list_filter = ["stage", "is_active"]
    inlines = [CadenceStepInline]


@admin.register(FollowUpPolicy)
class FollowUpPolicyAdmin(admin.ModelAdmin):
    fieldsets = [
        ("Speed to lead", {"fields": ["sla_minutes", "sla_manager_minutes", "sla_return_to_pool"]}),
        ("Working time (read in each user's time zone)", {"fields": ["workday_start", "workday_end", "working_days"]}),
        ("Follow-ups", {"fields": ["escalation_hours", "nurture_days"]}),
        ("Lead temperature", {"fields": ["hot_hours", "cooling_days", "cold_days"]}),
        ("Dispatcher", {"fields": ["batch_size", "max_attempts"]}),
    ]

    def has_add_permission(self, request):
        # One row: the admin edits it (it is created on first save from the defaults).
        return not FollowUpPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


class FailedFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [("failed", "Failed (needs a look)"), ("retrying", "Retrying"), ("claimed", "Claimed now")]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(failed_at__isnull=False)
        if self.value() == "retrying":
            return queryset.filter(
                failed_at__isnull=True, attempts__gt=0, claim_token__isnull=True, lease_until__isnull=False
            )
        if self.value() == "claimed":
            return queryset.filter(claim_token__isnull=False)
        return queryset


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["lead", "owner", "kind", "due_at", "state", "reminded_at", "escalated_at", "attempts", "failed_at"]
    list_filter = ["state", FailedFilter, "kind", "agreed_with_lead"]
    search_fields = ["lead__name", "instruction"]
    list_select_related = ["lead", "owner"]
    raw_id_fields = ["lead", "owner", "activity", "step", "created_by", "completed_by"]
    date_hierarchy = "due_at"
    # Rows are written by followups.services (schedule, complete, snooze…) and the dispatcher.
    readonly_fields = [
        "reminded_at",
        "escalated_at",
        "completed_at",
        "lease_until",
        "claim_token",
        "attempts",
        "last_error",
        "failed_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    list_display = ["lead", "owner_due_at", "owner_alerted_at", "manager_alerted_at", "stopped_at", "failed_at"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "text", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["text", "key"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
