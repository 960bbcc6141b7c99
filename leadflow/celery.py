"""The Celery app. Workers and beat start with `celery -A leadflow worker|beat`."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

app = Celery("leadflow")
# Every CELERY_* setting in leadflow/settings.py configures this app.
app.config_from_object("django.conf:settings", namespace="CELERY")


@setup_logging.connect
def config_loggers(*args, **kwargs):
    # Use Django's LOGGING so worker and web log the same way.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


app.autodiscover_tasks()
