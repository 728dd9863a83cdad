"""The Celery app: the worker queue that carries every command to the engine and every push."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")

app = Celery("pbx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
