"""WSGI entry point (management tools; production serves ASGI, see pbx.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")
application = get_wsgi_application()
