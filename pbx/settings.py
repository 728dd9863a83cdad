"""Settings for the PBX backend, read from environment variables.

Every setting that differs between a laptop, CI and production comes from the environment
(see README "Configuration"). Defaults suit local development against the machine's
PostgreSQL and Redis.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from pbx.local_env import load_local_env

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# What this machine's setup wrote to var/local.env (the database URL, see
# deploy/scripts/ensure-database.sh) fills in the environment before any default below applies.
load_local_env(os.environ)

PBX_ENVIRONMENT = env.str("PBX_ENVIRONMENT", default="development")
if PBX_ENVIRONMENT not in {"development", "test", "production"}:
    raise ImproperlyConfigured("PBX_ENVIRONMENT must be development, test or production")
IS_PRODUCTION = PBX_ENVIRONMENT == "production"

DEBUG = env.bool("PBX_DEBUG", default=not IS_PRODUCTION)
if IS_PRODUCTION and DEBUG:
    raise ImproperlyConfigured("PBX_DEBUG must be off in production")

if IS_PRODUCTION:
    SECRET_KEY = env.str("PBX_SECRET_KEY")
else:
    SECRET_KEY = env.str(
        "PBX_SECRET_KEY", default="insecure-development-key-never-use-in-production"
    )

ALLOWED_HOSTS = env.list(
    "PBX_ALLOWED_HOSTS",
    default=[] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("PBX_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "pbx.accounts.admin_config.StaffAdminConfig",  # django.contrib.admin, with the second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "pbx.directory",
    "pbx.accounts",
    "pbx.tokens",
    "pbx.edge",
    "pbx.audit",
    "devices",
    "routing",
    "voicemail",
    "pbx.portal",
    "pbx.engine",
    "pbx.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): second factor passed
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pbx.urls"
ASGI_APPLICATION = "pbx.asgi.application"
WSGI_APPLICATION = "pbx.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Storage: PostgreSQL is the system of record; `make run` may fall back to SQLite.
# The default suits a cluster that trusts 127.0.0.1; on Debian's default one (scram-sha-256),
# `make` writes the project role's URL to var/local.env (read above).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/pbx"),
}
# Under ASGI, request handlers run in a thread pool, so persistent connections (CONN_MAX_AGE)
# are off (Django's advice). Instead each process keeps a psycopg connection pool: a new
# PostgreSQL connection per request costs more than the request itself (see make bench).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("PBX_DB_CONN_MAX_AGE", default=0)
if env.bool("PBX_DB_POOL", default=True) and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("PBX_DB_POOL_SIZE", default=10),
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker and Channels layer. Empty REDIS_URL = run without Redis.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("PBX_CACHE_PREFIX", default="pbx"),
            "OPTIONS": {"pool_class": "pbx.cache_pool.ProcessConnectionPool"},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [env.str("CHANNELS_REDIS_URL", default=REDIS_URL)],
                "prefix": env.str("PBX_CHANNELS_PREFIX", default="pbx"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery: every side effect towards the engine and push providers goes through it.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("PBX_TASKS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Queues by task-name prefix: push notifications never wait behind voicemail or engine jobs.
CELERY_TASK_ROUTES = {
    "push.*": {"queue": "push"},
    "engine.*": {"queue": "engine"},
    "*": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "purge-expired-access-tokens": {
        "task": "tokens.purge_expired_access_tokens",
        "schedule": 3600.0,
    },
    "purge-expired-voicemail": {"task": "voicemail.purge_expired", "schedule": 3600.0},
    "purge-old-failures": {"task": "devices.purge_old_failures", "schedule": 3600.0},
    # Registration events are delivered at most once: repair what Django missed.
    "sync-engine-registrations": {
        "task": "engine.sync_registrations",
        "schedule": env.float("PBX_REGISTRATION_SYNC_SECONDS", default=60.0),
    },
}

# --- Auth
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
AUTH_USER_MODEL = "directory.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PBX_PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout (pbx/accounts): every surface (API, portal, admin) counts failures (wrong
# password, wrong second-factor code, unknown account alike) per account and per address.
PBX_LOGIN_ACCOUNT_FAILURES = env.int("PBX_LOGIN_ACCOUNT_FAILURES", default=5)
PBX_LOGIN_ADDRESS_FAILURES = env.int("PBX_LOGIN_ADDRESS_FAILURES", default=20)
PBX_LOGIN_FAILURE_WINDOW = env.int("PBX_LOGIN_FAILURE_WINDOW", default=15 * 60)
PBX_LOGIN_LOCK_SECONDS = env.int("PBX_LOGIN_LOCK_SECONDS", default=60)
PBX_LOGIN_MAX_LOCK_SECONDS = env.int("PBX_LOGIN_MAX_LOCK_SECONDS", default=3600)
PBX_LOGIN_LOCK_MEMORY = env.int("PBX_LOGIN_LOCK_MEMORY", default=24 * 3600)
PBX_LOGIN_KNOWN_ADDRESS_SECONDS = env.int("PBX_LOGIN_KNOWN_ADDRESS_SECONDS", default=30 * 24 * 3600)
# Second factor (django-otp): the name authenticator apps show next to the account.
OTP_TOTP_ISSUER = env.str("PBX_OTP_ISSUER", default="PBX")
# django-otp's own per-device delay is off: it refuses even the right code, silently, for a
# while after a wrong one. Wrong codes count in the sign-in lockout above instead.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
SESSION_COOKIE_AGE = env.int("PBX_SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if IS_PRODUCTION else None

# --- HTTPS and browser security headers (`manage.py check --deploy` is clean in production).
# nginx terminates TLS and redirects port 80; Django redirects what still arrives over HTTP
# except the engine, the voicemail agent and monitoring, which call uvicorn on 127.0.0.1 directly.
SECURE_SSL_REDIRECT = env.bool("PBX_SSL_REDIRECT", default=IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^internal/", r"^health/"]
# HSTS on every HTTPS response; `preload` only matters once the domain is submitted to
# hstspreload.org (and is hard to undo then: every subdomain must serve HTTPS).
SECURE_HSTS_SECONDS = env.int("PBX_HSTS_SECONDS", default=365 * 24 * 3600 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("PBX_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("PBX_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Where browsers reach the engine's SIP over WebSocket (the portal's softphone, JsSIP): ws:// on
# the engine's TCP listener, wss:// on a TLS one (production: wss behind the real certificate;
# unset there, the Softphone page says it is not set up).
PBX_SIP_WEBSOCKET_URL = env.str(
    "PBX_SIP_WEBSOCKET_URL", default="" if IS_PRODUCTION else "ws://127.0.0.1:5060"
)


def _websocket_origin(url: str) -> list[str]:
    """The CSP source for the engine's WebSocket: its scheme, host and port (any path)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        return []
    return [f"{parts.scheme}://{parts.netloc}"]


# The portal and the admin load scripts and styles from /static/ only (no inline script or
# style), talk to the API with fetch() and to /ws/events over a WebSocket on the same origin
# ('self' covers ws:/wss: there), and the softphone to the engine's WebSocket; the QR code is
# inline SVG markup. The API docs relax style-src for their own pages (pbx/api/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "connect-src": [SELF, *_websocket_origin(PBX_SIP_WEBSOCKET_URL)],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Mobile-app API tokens: short-lived access tokens, rotating refresh tokens.
PBX_ACCESS_TOKEN_TTL = env.int("PBX_ACCESS_TOKEN_TTL", default=15 * 60)
PBX_REFRESH_TOKEN_TTL = env.int("PBX_REFRESH_TOKEN_TTL", default=30 * 24 * 3600)

# Shared secret the engine presents on the internal API (route decisions, call events).
if IS_PRODUCTION:
    PBX_ENGINE_TOKEN = env.str("PBX_ENGINE_TOKEN")
else:
    PBX_ENGINE_TOKEN = env.str("PBX_ENGINE_TOKEN", default="development-engine-token")

# Failed registrations and calls: kept this long; past this many per source address and minute
# only counted (an attack cannot fill the database).
PBX_FAILURE_RETENTION_DAYS = env.int("PBX_FAILURE_RETENTION_DAYS", default=30)
PBX_FAILURES_PER_ADDRESS_MINUTE = env.int("PBX_FAILURES_PER_ADDRESS_MINUTE", default=30)

# Where Celery workers reach the engine's JSON-RPC (Kamailio jsonrpcs over xhttp, POST only).
PBX_ENGINE_RPC_URL = env.str("PBX_ENGINE_RPC_URL", default="http://127.0.0.1:5060/RPC")

# Push wake-ups. A provider without credentials is simply not used (its pushes fail with
# `not_configured`, and calls ring the other devices).
PBX_PUSH_TIMEOUT = env.float("PBX_PUSH_TIMEOUT", default=5.0)
PBX_FCM_SERVICE_ACCOUNT_FILE = env.str("PBX_FCM_SERVICE_ACCOUNT_FILE", default="")
PBX_FCM_URL = env.str("PBX_FCM_URL", default="")  # empty: https://fcm.googleapis.com
PBX_APNS_KEY_FILE = env.str("PBX_APNS_KEY_FILE", default="")  # the .p8 signing key
PBX_APNS_KEY_ID = env.str("PBX_APNS_KEY_ID", default="")
PBX_APNS_TEAM_ID = env.str("PBX_APNS_TEAM_ID", default="")
PBX_APNS_URL = env.str("PBX_APNS_URL", default="https://api.push.apple.com")
PBX_APNS_SANDBOX_URL = env.str("PBX_APNS_SANDBOX_URL", default="https://api.sandbox.push.apple.com")
PBX_APNS_CA_FILE = env.str("PBX_APNS_CA_FILE", default="")  # empty: the system's CAs
PBX_APNS_TOKEN_TTL = env.float("PBX_APNS_TOKEN_TTL", default=40 * 60)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# E-mail (voicemail notifications with the audio attached, when a mailbox asks for them).
EMAIL_HOST = env.str("PBX_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("PBX_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("PBX_EMAIL_USER", default="")
EMAIL_HOST_PASSWORD = env.str("PBX_EMAIL_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("PBX_EMAIL_STARTTLS", default=False)
EMAIL_TIMEOUT = env.int("PBX_EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("PBX_EMAIL_FROM", default="PBX voicemail <voicemail@pbx.localhost>")

# Where the voicemail agent listens; the engine sends unanswered calls there (empty: none).
PBX_VOICEMAIL_URI = env.str("PBX_VOICEMAIL_URI", default="sip:127.0.0.1:5070")
# Optional transcription: a dotted path to a callable(wav: bytes) -> str (off when empty).
PBX_VOICEMAIL_TRANSCRIBER = env.str("PBX_VOICEMAIL_TRANSCRIBER", default="")

# Voicemail audio (greetings, messages) goes through Django's storage API: the filesystem by
# default; any storage backend (e.g. django-storages' S3Storage) through PBX_MEDIA_STORAGE and
# its OPTIONS as JSON in PBX_MEDIA_STORAGE_OPTIONS.
MEDIA_ROOT = env.path("PBX_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {
        "BACKEND": env.str(
            "PBX_MEDIA_STORAGE", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("PBX_MEDIA_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = env.path("PBX_STATIC_ROOT", default=BASE_DIR / "var" / "static")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pbx.tokens.authentication.BearerTokenAuthentication",
        "pbx.accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PAGINATION_CLASS": "pbx.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "pbx.api.openapi.AutoSchema",  # documents the errors too
    "EXCEPTION_HANDLER": "pbx.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("PBX_LOGIN_RATE", default="10/min"),
        "token_refresh": env.str("PBX_TOKEN_REFRESH_RATE", default="30/min"),
    },
    # 0: throttles key on REMOTE_ADDR, which uvicorn --proxy-headers sets to the real client
    # when the request comes from a trusted proxy. Never trust a client's X-Forwarded-For.
    "NUM_PROXIES": env.int("PBX_NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PBX API",
    "DESCRIPTION": (
        "Hosted PBX backend for multi-device calling. Mobile apps authenticate with a short-lived "
        "bearer access token and a rotating refresh token; browsers use the session cookie. "
        "Errors have the shape {code, detail, fields?}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "devices.models.Device.Kind",
        "UserRoleEnum": "pbx.directory.models.User.Role",
        "AssignableRoleEnum": "pbx.directory.models.ASSIGNABLE_ROLES",
        "TransportPolicyEnum": "pbx.directory.models.TransportPolicy",
        "DeviceTransportPolicyEnum": "devices.models.Device.TRANSPORT_POLICY_CHOICES",
    },
}

LOG_LEVEL = env.str("PBX_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "httpx": {"level": "WARNING"},
    },
}
