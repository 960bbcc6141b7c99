"""Email backends for tests. Importable by worker subprocesses too (EMAIL_BACKEND=tests.followups.mailbox.…)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.filebased import EmailBackend as DjangoFileBackend

MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE)


class FileBackend(DjangoFileBackend):
    """Django's file backend with one file per process and connection (Django's names can collide
    across processes), and an optional delay per message (LEADFLOW_TEST_MAIL_DELAY seconds) so a
    test can kill a worker in the middle of a batch."""

    def _get_filename(self):
        if self._fname is None:
            self._fname = os.path.join(self.file_path, f"{os.getpid()}-{id(self)}-{time.monotonic_ns()}.eml")
        return self._fname

    def write_message(self, message):
        delay = float(os.environ.get("LEADFLOW_TEST_MAIL_DELAY") or 0)
        if delay:
            time.sleep(delay)
        super().write_message(message)
        self.stream.flush()


def message_ids(folder: str | Path) -> list[bytes]:
    """Every Message-ID written to the folder, duplicates included."""
    ids: list[bytes] = []
    for path in Path(folder).glob("*.eml"):
        ids += MESSAGE_ID.findall(path.read_bytes())
    return ids


class FailingBackend(BaseEmailBackend):
    """A mail server that refuses everything."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


class DyingBackend(BaseEmailBackend):
    """Sends `survive` messages (to the locmem outbox), then the process "dies" mid-batch.

    KeyboardInterrupt is not an Exception: the dispatcher cannot catch it, like a kill.
    """

    survive = 0
    sent = 0

    def send_messages(self, email_messages):
        from django.core import mail

        for message in email_messages:
            if DyingBackend.sent >= DyingBackend.survive:
                raise KeyboardInterrupt("worker killed")
            DyingBackend.sent += 1
            mail.outbox.append(message)
        return len(email_messages)


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses the addresses in `refused` and delivers the rest (to the locmem outbox)."""

    refused: set[str] = set()

    def send_messages(self, email_messages):
        from django.core import mail

        for message in email_messages:
            if set(message.to) & RefusingBackend.refused:
                raise ConnectionRefusedError(f"mailbox unavailable: {message.to}")
            mail.outbox.append(message)
        return len(email_messages)


class SlowBackend(BaseEmailBackend):
    """A mail server that takes `delay` seconds per message (then delivers to the locmem outbox)."""

    delay = 0.0

    def send_messages(self, email_messages):
        from django.core import mail

        for message in email_messages:
            time.sleep(SlowBackend.delay)
            mail.outbox.append(message)
        return len(email_messages)


class MarkCheckingBackend(BaseEmailBackend):
    """Delivers to the locmem outbox and, before each message, notes every earlier message whose
    notification is not marked emailed in the database yet (what a kill at that moment would resend)."""

    unmarked: list[int] = []

    def send_messages(self, email_messages):
        from django.core import mail

        from followups.emails import message_id_for
        from followups.models import Notification

        for message in email_messages:
            marked = {
                message_id_for(k)
                for k in Notification.objects.filter(emailed_at__isnull=False).values_list("key", flat=True)
            }
            MarkCheckingBackend.unmarked.append(
                sum(1 for sent in mail.outbox if sent.extra_headers["Message-ID"] not in marked)
            )
            mail.outbox.append(message)
        return len(email_messages)
