"""Writes of the intake app: web-form submissions and their confirmations, CSV import jobs.

Lead rules (normalise, dedupe, assign, create) are not here: every path calls
leads.services.lead_intake / lead_intake_many.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import get_connection
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.template import Context, Template
from django.utils import timezone

from accounts.models import Team, User
from followups.emails import LeadFlowTextEmail
from leadflow.ahead import Ahead
from leadflow.bulk import update_objects
from leadflow.emailmarks import MarkStatement, email_marks
from leadflow.locks import xact_locks_sql
from leadflow.queue import debounce_reset, enqueue_on_commit, enqueue_on_commit_debounced
from leads import selectors as lead_selectors
from leads import services as lead_services
from leads.models import Channel, LeadSource

from . import csvio, selectors
from .models import ImportJob, ImportRowError, WebForm, WebFormSubmission

logger = logging.getLogger(__name__)

TOKEN_SALT = "intake.webform.token"
CONFIRMATION_LEASE = timedelta(minutes=5)
CONFIRMATION_MAX_ATTEMPTS = 10
IMPORT_LEASE = timedelta(minutes=2)
IMPORT_BATCH = 500
# The web-form drain: submissions per transaction (its row locks, and the team's round-robin
# row, are held that long), and the trigger's debounce (at most one drain asked per second,
# started a second later: it takes that second's posts in one go).
DRAIN_BATCH = 200
DRAIN_TRIGGER_KEY = "intake:webform-drain"
DRAIN_DEBOUNCE_SECONDS = 1

MSG_IMPORT_TEAM = "You can only import into a team you belong to or manage."
MSG_MAPPING_TWICE = "“{field}” is chosen for more than one column."
MSG_MAPPING_NAME = "Choose the column with the name (or the first and last name columns)."
MSG_MAPPING_CONTACT = "Choose the column with the email or the phone number."
MSG_MAPPING_UNKNOWN = "Unknown field “{field}”."

# Lead fields a column may fill; first and last name are joined into the name.
IMPORT_FIELDS = {
    "name": "Name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "title": "Job title",
    "referred_by": "Referred by",
    "notes": "Notes",
}
FIELD_LABELS = {**IMPORT_FIELDS, "source": "Source", "team": "Team", "owner": "Owner", "__all__": "Row"}


# --- Web forms -----------------------------------------------------------------------------------


def webform_token_issue(*, form: WebForm) -> str:
    """A signed token carrying the form, a nonce (the idempotency key) and the time it was given out."""
    payload = {"f": form.pk, "n": secrets.token_urlsafe(18), "t": int(time.time())}
    return signing.dumps(payload, salt=TOKEN_SALT, compress=False)


@dataclass(frozen=True)
class WebFormToken:
    nonce: str
    issued_at: float


def webform_token_read(*, form: WebForm, token: str) -> WebFormToken | None:
    """The token's nonce and issue time if it is ours and for this form; None otherwise."""
    if not token or len(token) > 300:
        return None
    try:
        payload = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("f") != form.pk:
        return None
    nonce, issued = payload.get("n"), payload.get("t")
    if not isinstance(nonce, str) or not isinstance(issued, int) or len(nonce) > 64:
        return None
    return WebFormToken(nonce=nonce, issued_at=float(issued))


def _fingerprint(form: WebForm, clean: dict[str, str]) -> str:
    """Same form and same content → same fingerprint (the re-post within the window)."""
    parts = [str(form.pk)] + [clean.get(f, "").strip().lower() for f in ("name", "email", "phone", "notes")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def webform_submit(*, form: WebForm, data: dict[str, str], token: WebFormToken) -> int:
    """Accept one post of a public form: at most one submission (so one lead) per token and per
    content window. Returns the submission's id: the new one, or the earlier one it repeats. The
    lead is made a moment later by the drain (accept, then process).

    Why queued: making the lead in the request (dedupe, round-robin turn under the team's row
    lock, clock, six follow-ups, notices: ~22 queries, ~18 ms of CPU) held posts for one team
    in line behind each other and topped out near 100 posts/s on two cores. Here the post costs
    a few queries, and webform_submissions_drain makes the leads in batches through
    lead_intake_many (the same rules), usually within a second or two.

    1. Clean the fields (intake_clean: a field error goes back to the person) and refuse a
       form whose source is no longer in use, as lead_intake would.
    2. Lock this post's token and content (advisory locks, not the form row: posts of other
       people to the same form go on in parallel), so the idempotency check below cannot race
       (a double click sends two requests at the same instant). Should two posts with one token
       but other content race anyway, the (form, token) unique constraint refuses the second.
    3. Save the submission, pending, with the cleaned fields and the time of the post (the
       lead's received_at), unless a submission with this token, or with this content in the
       last WEBFORM_IDEMPOTENCY_SECONDS, exists: one statement. A repeat returns that earlier
       submission's id: no second lead. It commits before the person sees the thank-you page.
       Steps 2 and 3 are one round trip (_submission_insert_unless_repeat says how), with no
       BEGIN or COMMIT of their own.
    4. After commit, ask for a drain to start a second later (debounced: posts ask about once
       a second, and each drain takes that second's posts). If the broker is down the
       submission waits for intake_catch_up (every minute).
    The caller answers every outcome the same way, so nobody learns whether an email is known.
    """
    clean = lead_services.intake_clean(data)
    if not form.source.is_active:
        raise ValidationError({"source": lead_services.MSG_INACTIVE_SOURCE})
    fingerprint = _fingerprint(form, clean)
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.WEBFORM_IDEMPOTENCY_SECONDS)
    needs_confirmation = form.send_confirmation and bool(clean["email"])
    submission_id = _submission_insert_unless_repeat(
        locks=[f"webform-token:{form.pk}:{token.nonce}", f"webform-content:{fingerprint}"],
        form=form,
        nonce=token.nonce,
        fingerprint=fingerprint,
        clean=clean,
        now=now,
        since=window_start,
        confirmation=WebFormSubmission.Confirmation.PENDING
        if needs_confirmation
        else WebFormSubmission.Confirmation.NOT_NEEDED,
    )
    if submission_id is None:
        # A repeat (rare: a double click, a re-post): which submission it repeats. The insert's
        # terms with the same `since`: what it found matches still, and nothing can have been
        # added that the insert's check would not have refused.
        earlier = selectors.webform_submission_earlier(
            form=form, nonce=token.nonce, fingerprint=fingerprint, since=window_start
        )
        return earlier.pk
    from .tasks import webform_submissions_drain_task

    enqueue_on_commit_debounced(webform_submissions_drain_task, key=DRAIN_TRIGGER_KEY, seconds=DRAIN_DEBOUNCE_SECONDS)
    return submission_id


# The columns a post writes; the others start NULL (lead, processed_at, the confirmation's times).
_SUBMISSION_COLUMNS = (
    "form_id",
    "token",
    "fingerprint",
    "state",
    "data",
    "outcome",
    "error",
    "name",
    "email",
    "message",
    "submitted_at",
    "confirmation",
    "confirmation_attempts",
)


@functools.cache
def _submission_insert_sql(vendor: str) -> str:
    """INSERT … SELECT <the post's values> WHERE NOT EXISTS (<an earlier submission>) RETURNING id,
    for `vendor` (PostgreSQL and SQLite both read it). Built once per process from the model."""
    meta, quote = WebFormSubmission._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    column = {name: quote(meta.get_field(name).column) for name in (*_SUBMISSION_COLUMNS, "id")}
    return (
        f"INSERT INTO {table} ({', '.join(column[c] for c in _SUBMISSION_COLUMNS)}) "
        f"SELECT {', '.join(['%s'] * len(_SUBMISSION_COLUMNS))} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {column['form_id']} = %s AND ({column['token']} = %s "
        f"OR ({column['fingerprint']} = %s AND {column['submitted_at']} >= %s))) "
        f"RETURNING {column['id']}"
    )


def _submission_insert_unless_repeat(
    *,
    locks: list[str],
    form: WebForm,
    nonce: str,
    fingerprint: str,
    clean: dict[str, str],
    now: datetime,
    since: datetime,
    confirmation: str,
) -> int | None:
    """Take the advisory `locks`, then insert the post's pending submission unless one with its
    token, or with its content since `since`, exists (the terms of
    selectors.webform_submission_earlier); its id, or None for a repeat.

    One round trip: the two statements go as one query string. Outside a transaction
    PostgreSQL runs such a string as one implicit transaction, so the locks are held until the
    insert has committed; and each statement of it takes its own snapshot, so the insert's
    check sees a post that committed while this one waited for a lock. (In a caller's
    transaction the locks are held until that one ends.) It replaced BEGIN, the locks, a
    look-up, Model.objects.create and COMMIT: five round trips, and compiling the INSERT was a
    sixth of a post's CPU. The values are checked by the caller (no full_clean, as create did
    none). On SQLite there are no locks: its writers are serialised, and the insert is one
    statement."""
    ops = connection.ops
    submitted_at = ops.adapt_datetimefield_value(now)
    values = (
        form.pk,
        nonce,
        fingerprint,
        WebFormSubmission.State.PENDING.value,
        ops.adapt_json_value(clean, None),
        "",
        "",
        clean["name"],
        clean["email"],
        clean.get("notes", ""),
        submitted_at,
        str(confirmation),
        0,
    )
    lock_sql, lock_params = xact_locks_sql(locks)
    insert_sql = _submission_insert_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{lock_sql}; {insert_sql}" if lock_sql else insert_sql,
            [*lock_params, *values, form.pk, nonce, fingerprint, ops.adapt_datetimefield_value(since)],
        )
        row = cursor.fetchone()  # the last statement's: the insert's RETURNING
    return None if row is None else row[0]


@dataclass(frozen=True)
class DrainRun:
    processed: int  # submissions given their lead (or marked failed)
    finished: bool  # False: stopped by the budget with submissions still pending


def webform_submissions_drain(*, budget_seconds: float | None = None, batch_size: int = DRAIN_BATCH) -> DrainRun:
    """Make the leads of pending web-form submissions, batch after batch, until none is left
    (or the budget is spent: the caller queues the rest).

    Started by the debounced trigger of each post (webform_submissions_drain_task) and by
    intake_catch_up every minute, which drains what a broker outage left. So a lead usually
    appears within a second or two of the post; under a steady load one drain a second takes
    that second's posts (a backlog goes batch after batch); after a Redis outage, within a
    minute of its return.
    Several drains may run at once (workers, the beat's): each claims its own rows.
    """
    debounce_reset(DRAIN_TRIGGER_KEY)  # before reading: see enqueue_on_commit_debounced
    start = time.monotonic()
    processed = 0
    while True:
        n = _drain_batch(batch_size)
        processed += n
        if n < batch_size:
            return DrainRun(processed=processed, finished=True)
        if budget_seconds is not None and time.monotonic() - start > budget_seconds:
            return DrainRun(processed=processed, finished=False)


@transaction.atomic
def webform_submissions_retry(*, ids: list[int]) -> int:
    """Put failed submissions back in the inbox (an admin fixed what refused them, e.g. made
    the form's source active again) and ask for a drain. Returns how many."""
    n = WebFormSubmission.objects.filter(pk__in=ids, state=WebFormSubmission.State.FAILED).update(
        state=WebFormSubmission.State.PENDING, error="", processed_at=None
    )
    if n:
        from .tasks import webform_submissions_drain_task

        enqueue_on_commit(webform_submissions_drain_task)
    return n


def _drain_batch(batch_size: int) -> int:
    """Process up to `batch_size` pending submissions in one transaction; returns how many.

    1. Claim the oldest pending rows with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL): another
       drain skips them and takes the next ones. On SQLite the transaction is IMMEDIATE, so
       drains run one after the other. The rows stay locked until commit: a drain that dies
       mid-batch (killed worker, lost connection) rolls back, they are pending again, and the
       next drain makes their leads once.
    2. Lock every email and phone of the batch (lead_contacts_lock, as lead_intake does for
       its one row), so a concurrent intake from another channel sees these leads.
    3. Per form (ordered by team, so team rows are locked in one order), lead_intake_many with
       each submission's time as its lead's received_at; a database error retries the form's
       rows one by one (as the import does). A row the rules reject gets its error.
    4. Mark each submission processed with its lead and outcome, or failed with its error,
       only if it is still pending (a conditional bulk UPDATE; anything else rolls back).
    5. Tell the owners (one notice per person per form and batch: notify_owners_of_batch), and
       after commit queue the confirmation emails of the processed submissions.
    """
    now = timezone.now()
    with transaction.atomic():
        subs = list(
            WebFormSubmission.objects.filter(state=WebFormSubmission.State.PENDING)
            .order_by("id")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        if not subs:
            return 0
        forms = WebForm.objects.select_related("source", "team").in_bulk({s.form_id for s in subs})
        lead_services.lead_contacts_lock(
            key for s in subs for key in (s.data.get("email"), s.data.get("phone")) if isinstance(key, str)
        )
        by_form: dict[int, list[WebFormSubmission]] = {}
        for sub in subs:
            by_form.setdefault(sub.form_id, []).append(sub)
        for form_id in sorted(by_form, key=lambda pk: (forms[pk].team_id, pk)):
            _drain_form(forms[form_id], by_form[form_id], now)
        fields = ["state", "lead", "outcome", "error", "processed_at"]
        marked = update_objects(subs, fields, only_if={"state": WebFormSubmission.State.PENDING})
        if marked != len(subs):  # cannot happen under the row locks; never write twice if it did
            raise DatabaseError(f"web-form drain: {marked} of {len(subs)} claimed submissions were still pending")
        confirm = [
            s.pk
            for s in subs
            if s.state == WebFormSubmission.State.PROCESSED and s.confirmation == WebFormSubmission.Confirmation.PENDING
        ]
        if confirm:
            from .tasks import webform_confirmations_send_task

            enqueue_on_commit(webform_confirmations_send_task, confirm)
    return len(subs)


def _intake_or_row_by_row(
    *, cleaned: list, received_times: list[datetime] | None = None, what: str, **kwargs
) -> list[lead_services.IntakeResult | ValidationError]:
    """lead_intake_many_cleaned for a batch (the web form's drain, a CSV import's batch), in a
    savepoint. A database error there (not a bad row: those come back as ValidationErrors) makes
    the batch go again row by row, each in its own savepoint, so one row never stops the others;
    a row the database still refuses gets a ValidationError saying so. A ValidationError the
    batch raises as a whole (the source or owner refused) is the caller's.

    Any other exception (a bug some row's data sets off) is treated like a database error: the
    drain takes the oldest pending rows first, so a row that failed its whole batch every time
    would hold up every submission behind it. It gets its error, and an admin can process it
    again once the bug is fixed (webform_submissions_retry)."""
    try:
        with transaction.atomic():
            return lead_services.lead_intake_many_cleaned(cleaned=cleaned, received_times=received_times, **kwargs)
    except ValidationError:
        raise
    except Exception:
        logger.warning("%s: batch failed, retrying row by row", what, exc_info=True)
    results: list[lead_services.IntakeResult | ValidationError] = []
    for i, row in enumerate(cleaned):
        at = None if received_times is None else [received_times[i]]
        try:
            with transaction.atomic():
                results.extend(lead_services.lead_intake_many_cleaned(cleaned=[row], received_times=at, **kwargs))
        except ValidationError:
            raise
        except Exception as e:
            logger.warning("%s: a row could not be saved", what, exc_info=True)
            results.append(ValidationError({"__all__": f"could not be saved ({type(e).__name__})."}))
    return results


def _drain_form(form: WebForm, subs: list[WebFormSubmission], now: datetime) -> None:
    """One form's share of a batch: make the leads, record each submission's result on it."""
    context = f"web form “{form.title}”"
    kwargs = dict(channel=Channel.WEB, source=form.source, team=form.team, by=None, context=context)
    try:
        results = _intake_or_row_by_row(
            cleaned=lead_services.intake_clean_many([s.data for s in subs]),
            received_times=[s.submitted_at for s in subs],
            what=f"web form {form.slug}",
            **kwargs,
        )
    except ValidationError as e:
        # The form's own setting refused the whole batch (its source was retired meanwhile).
        results = [e] * len(subs)
    for sub, result in zip(subs, results, strict=True):
        sub.processed_at = now
        if isinstance(result, ValidationError):
            sub.state, sub.error = WebFormSubmission.State.FAILED, error_text(result)[:2000]
        else:
            sub.state, sub.lead, sub.outcome = WebFormSubmission.State.PROCESSED, result.lead, result.outcome
    lead_services.notify_owners_of_batch(
        channel=Channel.WEB, context=context, names=[s.name for s in subs], results=results
    )


# A confirmation's "sent" mark, written right after its email went (leadflow.emailmarks).
CONFIRMATION_MARK = MarkStatement(
    name="lf_mark_confirmed",
    sql=f"UPDATE {WebFormSubmission._meta.db_table} SET confirmation = 'sent', confirmation_sent_at = %s WHERE id = %s",
)


def webform_confirmations_send(
    *, ids: list[int] | None = None, now: datetime | None = None, limit: int = DRAIN_BATCH
) -> int:
    """Send the pending confirmations of processed submissions — those among `ids` (a drained
    batch), or the oldest ones (the catch-up) — each at most once as seen by the submitter:
    claim → send → mark, a batch over one mail connection. Returns how many were sent.

    Only processed submissions: the confirmation follows the lead (a submission still in the
    inbox, or failed, is confirmed once its lead is made).

    1. Claim up to `limit` rows in one short transaction: FOR UPDATE SKIP LOCKED (PostgreSQL;
       SQLite's IMMEDIATE transaction serialises claimers) over the pending rows nobody holds
       (no lease, or an expired one), then one UPDATE gives them a lease and one more attempt.
       No email goes while the rows are locked.
    2. An address that got a confirmation within WEBFORM_CONFIRMATION_INTERVAL, or gets one
       earlier in this batch, is skipped (one query for the batch): our form must not become a
       way to flood someone's inbox.
    3. Render each (a form's two templates compiled once per batch) and send over one
       connection. Each is marked sent right after its email went, the previous mark committed
       before the next email goes (leadflow.emailmarks): a crash resends at most the one email
       in flight, with the same Message-ID. Past four fifths of the lease nothing more is sent
       (another sender could take the rows over); those wait for the catch-up.
    4. A failed send (or mail connection) leaves its claim to expire and the catch-up tries
       again, up to CONFIRMATION_MAX_ATTEMPTS; then the confirmation is failed.
    """
    now = now or timezone.now()
    send_until = time.monotonic() + CONFIRMATION_LEASE.total_seconds() * 0.8
    q = WebFormSubmission.objects.filter(
        Q(confirmation_claimed_until__isnull=True) | Q(confirmation_claimed_until__lt=now),
        confirmation=WebFormSubmission.Confirmation.PENDING,
        state=WebFormSubmission.State.PROCESSED,
    )
    if ids is not None:
        q = q.filter(pk__in=ids)
    with transaction.atomic():
        subs = list(
            q.select_related("form")
            .order_by("submitted_at", "id")
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        if not subs:
            return 0
        WebFormSubmission.objects.filter(pk__in=[s.pk for s in subs]).update(
            confirmation_claimed_until=now + CONFIRMATION_LEASE, confirmation_attempts=F("confirmation_attempts") + 1
        )
    recent = set(
        WebFormSubmission.objects.filter(
            email__in={s.email for s in subs},
            confirmation_sent_at__gte=now - timedelta(seconds=settings.WEBFORM_CONFIRMATION_INTERVAL),
        ).values_list("email", flat=True)
    )
    to_send, skipped = [], []
    for sub in subs:
        (skipped if sub.email in recent else to_send).append(sub)
        recent.add(sub.email)
    if skipped:
        WebFormSubmission.objects.filter(pk__in=[s.pk for s in skipped]).update(
            confirmation=WebFormSubmission.Confirmation.SKIPPED
        )
    if not to_send:
        return 0
    failed: list[WebFormSubmission] = []
    sent = 0
    try:
        connection = get_connection()
        connection.open()
    except Exception:
        logger.exception("confirmations not sent (mail connection); will retry")
        failed = to_send
    else:
        templates: dict[int, tuple[Template, Template]] = {}
        try:
            with email_marks(CONFIRMATION_MARK, now) as marks:
                for sub in to_send:
                    if time.monotonic() > send_until:  # a slow mail server: the rest wait for the catch-up
                        break
                    try:
                        msg = _confirmation_message(sub, templates, connection)
                    except Exception:  # e.g. a template the admin broke
                        logger.exception("confirmation %s not rendered; will retry", sub.pk)
                        failed.append(sub)
                        continue
                    marks.wait()  # the previous email's mark is committed (or this raises)
                    try:
                        msg.send()
                    except Exception:
                        logger.exception("confirmation %s not sent; will retry", sub.pk)
                        failed.append(sub)
                    else:
                        marks.mark(sub.pk)
                        sent += 1
        finally:
            connection.close()
    # The claim's UPDATE added one attempt to what was read.
    spent = [s.pk for s in failed if s.confirmation_attempts + 1 >= CONFIRMATION_MAX_ATTEMPTS]
    if spent:
        WebFormSubmission.objects.filter(pk__in=spent).update(confirmation=WebFormSubmission.Confirmation.FAILED)
    return sent


def _confirmation_message(
    sub: WebFormSubmission, templates: dict[int, tuple[Template, Template]], connection
) -> LeadFlowTextEmail:
    """The confirmation email of one submission; `templates` keeps each form's compiled pair."""
    form = sub.form
    if form.pk not in templates:
        templates[form.pk] = (Template(form.confirmation_subject), Template(form.confirmation_body))
    subject_template, body_template = templates[form.pk]
    ctx = Context({"name": sub.name, "form_title": form.title, "message": sub.message}, autoescape=False)
    return LeadFlowTextEmail(
        subject=" ".join(subject_template.render(ctx).split())[:200],
        body=body_template.render(ctx),
        to=[sub.email],
        headers={"Message-ID": f"<webform-confirmation-{sub.pk}@leadflow>"},
        connection=connection,
    )


# --- CSV import ------------------------------------------------------------------------------------


def import_teams_for(user: User):
    """Teams a user may import into: their own as a rep, those they manage, all for an admin."""
    if user.has_perm("leads.view_all_leads"):
        return Team.objects.all()
    return Team.objects.filter(Q(memberships__user=user) | Q(manager=user)).distinct()


def _import_owner(user: User, team: Team) -> User | None:
    """A rep's import is theirs; a manager's (or admin's) is shared out by the team's rule."""
    if user.has_perm("leads.view_all_leads") or team.manager_id == user.pk:
        return None
    return user


@transaction.atomic
def import_job_create(*, user: User, upload: UploadedFile, team: Team, source: LeadSource) -> ImportJob:
    """Check an uploaded CSV (size, encoding, delimiter, header, rows), store it, guess the mapping.

    Raises ValidationError({"file": message}) for a file we cannot read, with what to do.
    """
    if not import_teams_for(user).filter(pk=team.pk).exists():
        raise ValidationError({"team": MSG_IMPORT_TEAM})
    if not source.is_active:
        raise ValidationError({"source": lead_services.MSG_INACTIVE_SOURCE})
    try:
        info = csvio.inspect_csv(
            upload.file, size=upload.size, max_bytes=settings.IMPORT_MAX_BYTES, max_rows=settings.IMPORT_MAX_ROWS
        )
    except csvio.CsvProblem as e:
        raise ValidationError({"file": str(e)}) from None
    upload.file.seek(0)
    job = ImportJob(
        created_by=user,
        team=team,
        source=source,
        owner=_import_owner(user, team),
        original_name=(upload.name or "upload.csv")[:255],
        size=upload.size,
        encoding=info.encoding,
        delimiter=info.delimiter,
        headers=info.headers,
        mapping=csvio.guess_mapping(info.headers),
        rows_total=info.rows_total,
    )
    job.file.save(f"import-{secrets.token_hex(8)}.csv", upload, save=False)
    job.save()
    return job


def import_mapping_clean(*, headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """Check a column mapping ({column index: field}); blank fields are dropped."""
    clean: dict[str, str] = {}
    seen: set[str] = set()
    for index, field in mapping.items():
        if not field:
            continue
        if field not in IMPORT_FIELDS:
            raise ValidationError({"__all__": MSG_MAPPING_UNKNOWN.format(field=field)})
        if field in seen:
            raise ValidationError({"__all__": MSG_MAPPING_TWICE.format(field=IMPORT_FIELDS[field])})
        if not str(index).isdigit() or int(index) >= len(headers):
            continue
        seen.add(field)
        clean[str(int(index))] = field
    if "name" not in seen and not {"first_name", "last_name"} & seen:
        raise ValidationError({"__all__": MSG_MAPPING_NAME})
    if not {"email", "phone"} & seen:
        raise ValidationError({"__all__": MSG_MAPPING_CONTACT})
    return clean


def import_row_data(cells: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """One row's cells → the fields lead_intake takes."""
    data: dict[str, str] = {}
    for index, field in mapping.items():
        i = int(index)
        data[field] = cells[i] if i < len(cells) else ""
    first, last = data.pop("first_name", "").strip(), data.pop("last_name", "").strip()
    if not data.get("name", "").strip() and (first or last):
        data["name"] = f"{first} {last}".strip()
    return data


def error_text(error: ValidationError) -> str:
    """A ValidationError as one line a person can act on: “Phone: Enter a valid…; Name: …”."""
    if hasattr(error, "error_dict"):
        return "; ".join(f"{FIELD_LABELS.get(f, f)}: {' '.join(msgs)}" for f, msgs in error.message_dict.items())
    return " ".join(error.messages)


@dataclass(frozen=True)
class PreviewRow:
    row_number: int
    data: dict[str, str]
    error: str
    duplicate: bool


def import_preview(*, job: ImportJob, mapping: dict[str, str], limit: int = 10) -> list[PreviewRow]:
    """The first rows as they would be imported, with each row's error. Reads only those rows."""
    rows = []
    with (
        job.file.open("rb") as f,
        closing(csvio.iter_rows(f.file, encoding=job.encoding, delimiter=job.delimiter)) as it,
    ):
        for row_number, cells in it:
            data = import_row_data(cells, mapping)
            try:
                clean = lead_services.intake_clean(data)
            except ValidationError as e:
                rows.append(PreviewRow(row_number, data, error_text(e), False))
            else:
                rows.append(PreviewRow(row_number, clean, "", False))
            if len(rows) >= limit:
                break
    good = [r for r in rows if not r.error]
    matches = lead_selectors.lead_find_matches(
        emails={r.data["email"] for r in good if r.data["email"]},
        phones={r.data["phone"] for r in good if r.data["phone"]},
    )
    return [
        PreviewRow(
            r.row_number, r.data, r.error, bool(not r.error and {r.data["email"], r.data["phone"]} & set(matches))
        )
        for r in rows
    ]


@transaction.atomic
def import_job_start(*, job: ImportJob, mapping: dict[str, str]) -> ImportJob:
    """Save the mapping and queue the job; the task starts after commit (caught up if the broker is down)."""
    mapping = import_mapping_clean(headers=job.headers, mapping=mapping)
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.MAPPING).update(
        mapping=mapping, status=ImportJob.Status.QUEUED
    )
    job.refresh_from_db()
    if updated:
        from .tasks import import_job_run_task

        enqueue_on_commit(import_job_run_task, job.pk)
    return job


def _claim(job_id: int, now: datetime) -> bool:
    return (
        ImportJob.objects.filter(pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(status=ImportJob.Status.RUNNING, claimed_until=now + IMPORT_LEASE)
        == 1
    )


def _count(counts: dict, owner_id: int | None, key: str) -> None:
    if owner_id is None:
        return
    entry = counts.setdefault(str(owner_id), {})
    entry[key] = entry.get(key, 0) + 1


Batch = list[tuple[int, list[str]]]  # (row number, cells)


def _cleaned_batches(
    raw, *, encoding: str, delimiter: str, mapping: dict[str, str], skip: int, batch_size: int
) -> Iterator[tuple[Batch, list]]:
    """The file's rows after the first `skip`, in batches, each with its rows cleaned
    (lead_services.intake_clean_many). No database: import_job_run runs this on a thread."""
    with closing(csvio.iter_rows(raw, encoding=encoding, delimiter=delimiter, skip=skip)) as rows:
        batch: Batch = []
        for item in rows:
            batch.append(item)
            if len(batch) >= batch_size:
                yield batch, lead_services.intake_clean_many([import_row_data(cells, mapping) for _, cells in batch])
                batch = []
        if batch:
            yield batch, lead_services.intake_clean_many([import_row_data(cells, mapping) for _, cells in batch])


def _run_batch(job: ImportJob, batch: Batch, cleaned: list, context: str) -> None:
    """Import one batch (its rows cleaned by _cleaned_batches) and move the job's counters in
    the same transaction.

    A database error in the bulk path goes again row by row (_intake_or_row_by_row).
    """
    kwargs = dict(
        channel=Channel.IMPORT, source=job.source, team=job.team, by=job.created_by, owner=job.owner, context=context
    )
    with transaction.atomic():
        results = _intake_or_row_by_row(cleaned=cleaned, what=f"import {job.pk}", **kwargs)
        errors, created, attached, flagged = [], 0, 0, 0
        counts = dict(job.notify_counts)
        for (row_number, cells), result in zip(batch, results, strict=True):
            if isinstance(result, ValidationError):
                errors.append(ImportRowError(job=job, row_number=row_number, values=cells, reason=error_text(result)))
            elif result.outcome == lead_services.IntakeOutcome.ATTACHED:
                attached += 1
                _count(counts, result.lead.owner_id, "attached")
            else:
                created += result.outcome == lead_services.IntakeOutcome.CREATED
                flagged += result.outcome == lead_services.IntakeOutcome.FLAGGED
                _count(counts, result.lead.owner_id, "created")
        ImportRowError.objects.bulk_create(errors)
        ImportJob.objects.filter(pk=job.pk).update(
            rows_processed=F("rows_processed") + len(batch),
            rows_created=F("rows_created") + created,
            rows_attached=F("rows_attached") + attached,
            rows_flagged=F("rows_flagged") + flagged,
            rows_rejected=F("rows_rejected") + len(errors),
            notify_counts=counts,
            claimed_until=timezone.now() + IMPORT_LEASE,
        )
        job.notify_counts = counts
        job.rows_processed += len(batch)


def import_job_run(*, job_id: int, budget_seconds: float | None = None, batch_size: int = IMPORT_BATCH) -> bool:
    """Run (or resume) an import until done or out of time; True when the job is finished.

    1. Claim the job with a lease (a conditional UPDATE), so two runs never import it at once;
       a run that died leaves a lease that expires, and the catch-up starts it again.
    2. Stream the file from the first unprocessed row, in batches; each batch commits its
       leads, its rejected rows and the job's counters together (resumable exactly).
    3. At the end tell each owner once and mark the job done. With a budget, stop between
       batches and let the caller queue the rest (keeps tasks under Celery's time limit).
    """
    start = time.monotonic()
    if not _claim(job_id, timezone.now()):
        return ImportJob.objects.filter(pk=job_id, status__in=[ImportJob.Status.DONE, ImportJob.Status.FAILED]).exists()
    job = ImportJob.objects.select_related("team", "source", "created_by", "owner").get(pk=job_id)
    if job.started_at is None:
        ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now())
    context = f"import of {job.original_name}"
    try:
        # The next batch is read and cleaned on a thread while this one is written (leadflow.ahead).
        with (
            job.file.open("rb") as f,
            Ahead(
                _cleaned_batches(
                    f.file,
                    encoding=job.encoding,
                    delimiter=job.delimiter,
                    mapping=job.mapping,
                    skip=job.rows_processed,
                    batch_size=batch_size,
                )
            ) as batches,
        ):
            for batch, cleaned in batches:
                _run_batch(job, batch, cleaned, context)
                last = len(batch) < batch_size
                if not last and budget_seconds is not None and time.monotonic() - start > budget_seconds:
                    ImportJob.objects.filter(pk=job.pk).update(claimed_until=None)
                    return False
    except Exception as e:
        logger.exception("import %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, error_message=f"The import stopped: {e}"[:500], finished_at=timezone.now()
        )
        return True
    with transaction.atomic():
        lead_services.notify_owners_of_intake(counts=job.notify_counts, by=job.created_by, context=context)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.DONE, finished_at=timezone.now(), claimed_until=None, rows_total=job.rows_processed
        )
    return True


def import_jobs_stalled(*, now: datetime | None = None) -> list[int]:
    """Queued or running jobs nobody holds (the task was lost or its worker died)."""
    now = now or timezone.now()
    return list(
        ImportJob.objects.filter(status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .filter(created_at__lt=now - timedelta(seconds=30))
        .values_list("pk", flat=True)
    )


def lead_export_rows(q) -> tuple[list[str], object]:
    """Header and a row iterator for a lead queryset already scoped and filtered by the caller."""
    header = [
        "id",
        "name",
        "email",
        "phone",
        "company",
        "title",
        "stage",
        "source",
        "owner",
        "team",
        "referred_by",
        "received_at",
        "first_contacted_at",
        "last_touched_at",
        "notes",
    ]

    def fmt(value: datetime | None) -> str:
        return timezone.localtime(value).isoformat(timespec="seconds") if value else ""

    def rows():
        for lead in q.iterator(chunk_size=2000):
            yield [
                lead.pk,
                lead.name,
                lead.email,
                lead.phone,
                lead.company,
                lead.title,
                lead.stage,
                lead.source.name,
                str(lead.owner) if lead.owner_id else "",
                lead.team.name,
                lead.referred_by,
                fmt(lead.received_at),
                fmt(lead.first_contacted_at),
                fmt(lead.last_touched_at),
                lead.notes,
            ]

    return header, rows()
