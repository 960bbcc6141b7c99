from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # No separate lead column: the summary starts with the lead's name, and at 1366 px the extra
    # column squeezed the summary to one word per line.
    list_display = ["created_at", "action", "actor", "summary"]
    list_filter = ["action"]
    search_fields = ["summary", "actor__username", "lead__name"]
    list_select_related = ["actor", "lead"]
    date_hierarchy = "created_at"

    # The log is append-only, even for admins.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
