"""Ways leads come in from outside: public web forms per source, and CSV imports."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse

DEFAULT_THANK_YOU = "Thank you! We have your message and will get back to you shortly."
DEFAULT_CONFIRMATION_SUBJECT = "We received your message"
DEFAULT_CONFIRMATION_BODY = """Hello {{ name }},

thank you for getting in touch through “{{ form_title }}”. We have your message and a member of our team will answer you shortly.

{% if message %}What you wrote:
{{ message }}

{% endif %}Best regards"""


class WebForm(models.Model):
    """A public form for one lead source (admin-managed): which fields it asks, where the leads go,
    what the submitter reads and receives. Served at /f/<slug>/ and embeddable on other sites."""

    class FieldMode(models.TextChoices):
        HIDDEN = "hidden", "Not shown"
        OPTIONAL = "optional", "Shown, optional"
        REQUIRED = "required", "Shown, required"

    # Optional fields of the form and the Lead field each fills (the name is always asked).
    FIELDS = {"email": "email", "phone": "phone", "company": "company", "job_title": "title", "message": "notes"}

    source = models.OneToOneField("leads.LeadSource", on_delete=models.PROTECT, related_name="web_form")
    slug = models.SlugField(
        max_length=60, unique=True, help_text="The public address is /f/this-slug/. Keep it stable once published."
    )
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True, max_length=2000, help_text="Shown above the fields.")
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.PROTECT, related_name="web_forms", help_text="New leads go to this team."
    )
    is_active = models.BooleanField(default=True)
    email_mode = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.REQUIRED)
    phone_mode = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OPTIONAL)
    company_mode = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OPTIONAL)
    job_title_mode = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.HIDDEN)
    message_mode = models.CharField(max_length=10, choices=FieldMode, default=FieldMode.OPTIONAL)
    submit_label = models.CharField(max_length=60, default="Send")
    thank_you_text = models.TextField(max_length=2000, default=DEFAULT_THANK_YOU)
    send_confirmation = models.BooleanField(default=True, help_text="Email the submitter that we have their message.")
    confirmation_subject = models.CharField(max_length=200, default=DEFAULT_CONFIRMATION_SUBJECT)
    confirmation_body = models.TextField(
        max_length=5000,
        default=DEFAULT_CONFIRMATION_BODY,
        help_text="Plain text. Placeholders: {{ name }}, {{ form_title }}, {{ message }}.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("intake:public_form", args=[self.slug])

    def public_url(self) -> str:
        return f"{settings.SITE_URL.rstrip('/')}{self.get_absolute_url()}"

    def mode(self, field: str) -> str:
        return getattr(self, f"{field}_mode")

    def clean(self) -> None:
        errors = {}
        if self.email_mode == self.FieldMode.HIDDEN and self.phone_mode == self.FieldMode.HIDDEN:
            errors["email_mode"] = "Show the email or the phone field: a lead must be reachable."
        if self.send_confirmation and self.email_mode == self.FieldMode.HIDDEN:
            errors["send_confirmation"] = "A confirmation needs the email field."
        for field in ("confirmation_subject", "confirmation_body"):
            try:
                Template(getattr(self, field)).render(Context({}))
            except TemplateSyntaxError as e:
                errors[field] = f"This template has an error: {e}"
        if errors:
            raise ValidationError(errors)


class WebFormSubmission(models.Model):
    """One accepted post of a web form: the inbox its lead is made from, the idempotency record
    and the confirmation's outbox.

    Accept, then process: the post only checks the form and saves this row with the cleaned
    lead fields (`data`, state *pending*) before the person sees the thank-you page; a Celery
    drain (intake.services.webform_submissions_drain) makes the leads of pending rows in
    batches and records each one's lead and outcome (or *failed* with its error). So the row is
    durable before the answer, and a broker outage only delays the lead.

    A double click or a re-post carries the same token (unique per form), and the same content
    within a short window has the same fingerprint: both find this row instead of making a
    second lead. The confirmation email is pending here until sent (once the lead is made), so
    a Redis outage only delays it (intake.tasks.intake_catch_up).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSED = "processed", "Lead made"
        FAILED = "failed", "Failed (see the error)"

    class Confirmation(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        NOT_NEEDED = "not_needed", "Not needed"
        SKIPPED = "skipped", "Skipped (recently sent to this address)"
        FAILED = "failed", "Failed"

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="submissions")
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="web_submissions"
    )
    token = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    # The lead's fields as intake_clean returned them at the post (name, email, phone, company,
    # title, referred_by, notes): what the drain hands to lead_intake_many.
    data = models.JSONField(default=dict, blank=True)
    # leads.services.IntakeOutcome once processed; blank while pending or failed.
    outcome = models.CharField(max_length=10, blank=True, default="")
    error = models.TextField(blank=True, max_length=2000)
    processed_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, blank=True)
    message = models.TextField(blank=True, max_length=10_000)
    # When the person sent it: the lead's received_at (its speed-to-lead clock starts here).
    submitted_at = models.DateTimeField()
    confirmation = models.CharField(max_length=10, choices=Confirmation, default=Confirmation.NOT_NEEDED)
    confirmation_claimed_until = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmation_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["form", "token"], name="webformsubmission_unique_token")]
        indexes = [
            # The idempotency window: same form, same content, recent.
            models.Index(fields=["form", "fingerprint", "submitted_at"], name="webformsub_fingerprint_idx"),
            # intake.services.webform_submissions_drain: pending submissions, oldest first
            # (SELECT … FOR UPDATE SKIP LOCKED).
            models.Index(fields=["id"], name="webformsub_pending_idx", condition=Q(state="pending")),
            # intake.tasks.intake_catch_up: pending confirmations, oldest first.
            models.Index(
                fields=["submitted_at"],
                name="webformsub_pending_conf_idx",
                condition=Q(confirmation="pending"),
            ),
            # "Recently sent to this address" (no mail bombing through our form).
            models.Index(fields=["email", "confirmation_sent_at"], name="webformsub_email_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.form} #{self.pk}"


class ImportJob(models.Model):
    """A CSV file being imported: uploaded, mapped, then run in the background in batches.

    `rows_processed` moves in the same transaction as each batch's leads, so a crashed or
    time-limited run resumes exactly where it stopped.
    """

    class Status(models.TextChoices):
        MAPPING = "mapping", "Waiting for the column mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    team = models.ForeignKey("accounts.Team", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey("leads.LeadSource", on_delete=models.PROTECT, related_name="+")
    # A rep imports their own leads; a manager's import is shared out by the team's rule (null).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=1)
    headers = models.JSONField(default=list)
    # {"0": "name", "3": "email", ...}: column index → lead field.
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status, default=Status.MAPPING)
    rows_total = models.PositiveIntegerField(default=0)
    rows_processed = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_attached = models.PositiveIntegerField(default=0)
    rows_flagged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    # {owner id: {"created": n, "attached": m}}: told once at the end.
    notify_counts = models.JSONField(default=dict)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The running task's lease; another run may take over once it has passed.
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("export_leads", "Can export lead lists to CSV")]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="importjob_user_idx"),
            # intake.tasks.intake_catch_up: unfinished jobs.
            models.Index(fields=["status"], name="importjob_open_idx", condition=Q(status__in=["queued", "running"])),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        if self.status == self.Status.MAPPING:
            return reverse("intake:import_mapping", args=[self.pk])
        return reverse("intake:import_detail", args=[self.pk])

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, int(self.rows_processed * 100 / self.rows_total)) if self.rows_total else 0

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ImportRowError(models.Model):
    """A rejected row of an import, with its cells as read and why, to fix and upload again."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    # Row number as a spreadsheet shows it: the header is row 1.
    row_number = models.PositiveIntegerField()
    values = models.JSONField(default=list)
    reason = models.TextField(max_length=2000)

    class Meta:
        ordering = ["job", "row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="importrowerror_job_idx")]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason[:40]}"
