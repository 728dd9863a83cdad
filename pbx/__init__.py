"""PBX backend: project settings, ASGI and Celery apps, the directory of tenants and users."""

from pbx.celery import app as celery_app

__all__ = ("celery_app",)
