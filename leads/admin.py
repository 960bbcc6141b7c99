from django.contrib import admin

from .models import Activity, Assignment, DuplicatePolicy, Lead, LeadMerge, LeadSource, OwnerNotice, StageChange


@admin.register(LeadSource)
class LeadSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_stage", "to_stage", "changed_by", "reason", "is_override"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        # History is written by leads.services.lead_change_stage only.
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "email", "stage", "source", "owner", "team", "received_at", "last_touched_at"]
    list_filter = ["stage", "source", "team"]
    search_fields = ["name", "email", "company", "phone"]
    list_select_related = ["source", "owner", "team"]
    date_hierarchy = "received_at"
    raw_id_fields = ["owner"]
    # Stage and owner change only through the services (history rows); edit them in the app.
    readonly_fields = [
        "stage",
        "stage_changed_at",
        "owner",
        "first_contacted_at",
        "last_touched_at",
        "created_at",
        "updated_at",
    ]
    inlines = [StageChangeInline]

    def has_add_permission(self, request):
        # Leads are created through lead_create (normalisation, history); use the app's form.
        return False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = ["lead", "from_stage", "to_stage", "changed_by", "changed_at", "is_override"]
    list_filter = ["to_stage", "is_override"]
    search_fields = ["lead__name", "reason"]
    list_select_related = ["lead", "changed_by"]
    raw_id_fields = ["lead"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "outcome", "occurred_at", "created_by"]
    list_filter = ["kind"]
    search_fields = ["lead__name", "outcome"]
    list_select_related = ["lead", "created_by"]
    raw_id_fields = ["lead"]

    def has_add_permission(self, request):
        return False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["lead", "from_owner", "to_owner", "assigned_by", "assigned_at", "reason"]
    search_fields = ["lead__name", "reason"]
    list_select_related = ["lead", "from_owner", "to_owner", "assigned_by"]
    raw_id_fields = ["lead"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(DuplicatePolicy)
class DuplicatePolicyAdmin(admin.ModelAdmin):
    list_display = ["channel", "action"]


@admin.register(LeadMerge)
class LeadMergeAdmin(admin.ModelAdmin):
    list_display = ["survivor", "merged", "merged_by", "merged_at"]
    list_select_related = ["survivor", "merged", "merged_by"]
    raw_id_fields = ["survivor", "merged"]
    search_fields = ["survivor__name", "merged__name"]

    def has_add_permission(self, request):
        return False  # merges happen on the merge page (leads.services.lead_merge)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OwnerNotice)
class OwnerNoticeAdmin(admin.ModelAdmin):
    list_display = ["subject", "recipient", "created_at", "sent_at", "attempts"]
    list_filter = ["sent_at"]
    list_select_related = ["recipient"]
    raw_id_fields = ["lead"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
