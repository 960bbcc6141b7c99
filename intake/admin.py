from django.contrib import admin
from django.utils.html import escape, format_html

from .models import ImportJob, ImportRowError, WebForm, WebFormSubmission
from .selectors import webform_embed_snippet
from .services import webform_submissions_retry


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "source", "team", "is_active", "public_link"]
    list_filter = ["is_active", "team"]
    list_select_related = ["source", "team"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["public_link", "embed_snippet"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "source", "team", "is_active", "intro", "submit_label"]}),
        (
            "Fields shown (the name is always asked)",
            {"fields": ["email_mode", "phone_mode", "company_mode", "job_title_mode", "message_mode"]},
        ),
        (
            "After sending",
            {"fields": ["thank_you_text", "send_confirmation", "confirmation_subject", "confirmation_body"]},
        ),
        ("Publish", {"fields": ["public_link", "embed_snippet"]}),
    ]

    @admin.display(description="Public page")
    def public_link(self, obj: WebForm) -> str:
        if not obj.pk:
            return "Saved forms get a public address."
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', obj.get_absolute_url(), obj.public_url()
        )

    @admin.display(description="Embed on another site")
    def embed_snippet(self, obj: WebForm) -> str:
        if not obj.pk:
            return "Save the form to get its HTML snippet."
        return format_html(
            "<p>Paste this HTML into any page; it posts to the public address above.</p>"
            '<textarea readonly rows="16" cols="100" class="vLargeTextField" aria-label="Embed HTML">{}</textarea>',
            # escape(), not format_html's conditional escape: the rendered snippet is "safe" HTML,
            # but inside a textarea it must show as text (its own </textarea> would end ours).
            escape(webform_embed_snippet(webform=obj)),
        )


@admin.register(WebFormSubmission)
class WebFormSubmissionAdmin(admin.ModelAdmin):
    list_display = ["form", "name", "email", "state", "outcome", "submitted_at", "confirmation", "lead", "error"]
    list_filter = ["state", "form", "outcome", "confirmation"]
    list_select_related = ["form", "lead"]
    search_fields = ["name", "email"]
    raw_id_fields = ["lead"]
    actions = ["process_again"]

    @admin.action(description="Process again (failed submissions)", permissions=["process_again"])
    def process_again(self, request, queryset):
        n = webform_submissions_retry(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{n} failed submission(s) queued again; their leads follow shortly.")

    def has_process_again_permission(self, request) -> bool:
        # Whoever may change the forms (and so fix what refused a submission: the source, the
        # team) may put its failed submissions back in the queue.
        return request.user.has_perm("intake.change_webform")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["row_number", "reason", "values"]
    readonly_fields = fields


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "created_by",
        "team",
        "status",
        "rows_total",
        "rows_created",
        "rows_rejected",
        "created_at",
    ]
    list_filter = ["status", "team"]
    list_select_related = ["created_by", "team"]
    search_fields = ["original_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
