"""LeadFlow settings: one file, driven by the environment.

With nothing set, the app runs on SQLite with a Celery broker that needs no server (kombu's
filesystem transport), so `make run` works on a fresh machine. Production differs only by
environment variables, all listed in `.env.example`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
# Production mode: every security setting on, and a real secret key is required.
PRODUCTION = envbool("LEADFLOW_PRODUCTION", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when LEADFLOW_PRODUCTION is on")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "audit",
    "leads",
    "qualification",
    "followups",
    "dashboard",
    "intake",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-csp's, its header built once (leadflow/middleware.py).
    "leadflow.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "leadflow.urls"
WSGI_APPLICATION = "leadflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "followups.context_processors.followups",
                "leadflow.context_processors.layout",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL (postgres://user@host:5432/name) selects PostgreSQL; nothing selects SQLite.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL's JIT compiles any query its planner guesses to be costly; for the dashboard's
        # aggregates that compiling took ~1 s of a 1.2 s query (measured, bench/dashboard.py).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "var" / "db.sqlite3")),
            # The web server, the worker and beat share one file: WAL lets readers run beside a
            # writer, and IMMEDIATE makes a writer wait for the lock instead of failing at once.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Django's Redis cache without a new client per call (leadflow/cache.py says why).
    CACHES = {"default": {"BACKEND": "leadflow.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "leadflow.cache.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------
# Database sessions, their query compiled once (accounts/sessions.py says why not cached_db).
SESSION_ENGINE = "accounts.sessions"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "leads:queue"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username+IP is refused before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend reading permissions and roles in one query (accounts/backends.py).
    "accounts.backends.AccessBackend",
]
# Login throttling: 5 failures for one username from one address lock that pair out for 15
# minutes (a cool-off, so nobody waits for an admin); other people and addresses are unaffected.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a proxy, the client address is the X-Forwarded-For entry this many hops back.
AXES_IPWARE_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# Stored in UTC; each request is shown in the user's own zone (accounts.middleware).
TIME_ZONE = "UTC"
# LeadFlow is written in English only (no locale/, no LocaleMiddleware, no language setting). With
# USE_I18N on, every gettext (each month name of a `date` filter, timesince, form labels: ~300 a
# page) looked up the active language through asgiref's Local for an identity translation: ~7 %
# of a page's function calls. Off, the text is the same and the lookups are gone.
USE_I18N = False
USE_TZ = True
# Region used to read phone numbers written without a country code.
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "US")

# --- Static files: our own in static/, front-end libraries straight from node_modules -----------
STATIC_URL = "static/"
# collectstatic's target, used in production only (elsewhere WhiteNoise serves from the finders).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "staticfiles")) if PRODUCTION else None
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Uploaded files (CSV imports). Several web/worker hosts need shared storage here (a network
# volume, or an object store via STORAGES["default"]), since the worker reads what the web saved.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", "") or BASE_DIR / "var" / "media")
MEDIA_URL = "media/"

# Django's widget templates, written in Python for the common widgets: the same HTML, a fraction
# of the CPU (leadflow/formrender.py).
FORM_RENDERER = "leadflow.formrender.WidgetRenderer"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LeadFlow <leadflow@localhost>")
# The SMTP backend's server (Django's defaults: localhost:25).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
# Where django.core.mail.backends.filebased.EmailBackend writes (tests and demos count emails there).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))

# --- Celery ---------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # visibility_timeout above the longest task (ENGINEERING.md); short socket timeouts so a
    # request that enqueues during a Redis outage gives up fast instead of hanging.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
else:
    # A broker that needs no server: messages are files under var/broker, shared by every
    # process on this host. Good for one machine; production uses Redis.
    BROKER_DIR = BASE_DIR / "var" / "broker"
    BROKER_DIR.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        # Broadcast (worker control) files; kombu's default is ./control in the current directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = "UTC"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
# One queue name for every task; tests give each run its own so parallel runs never meet.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")

# --- Follow-up dispatcher ---------------------------------------------------------------------
# Beat ticks the dispatcher every FOLLOWUP_TICK_SECONDS. It is the one static beat entry: an
# interval (a crontab could be skipped or doubled by DST), and a tick that waited in the broker
# longer than one interval expires unrun. Cadences are our own data, never beat rows.
FOLLOWUP_TICK_SECONDS = envint("FOLLOWUP_TICK_SECONDS", 60)
# How long a claimed row is a worker's before another may take it over (the worker died).
# Far above the time one batch takes to send.
FOLLOWUP_LEASE_SECONDS = envint("FOLLOWUP_LEASE_SECONDS", 300)
# One dispatcher run stops claiming after this long (under CELERY_TASK_SOFT_TIME_LIMIT); the
# next tick carries on with what is left.
FOLLOWUP_DISPATCH_BUDGET_SECONDS = envint("FOLLOWUP_DISPATCH_BUDGET_SECONDS", 45)
# Periodic jobs: fixed entries only (cadences and reminders are our own rows, never beat rows).
# `expires` drops triggers that piled up while the workers were down.
# The manager's dashboard shows figures at most this old (plus a margin): the beat task
# recomputes every manager's default view this often (dashboard.snapshots).
DASHBOARD_SNAPSHOT_INTERVAL = envint("DASHBOARD_SNAPSHOT_INTERVAL", 600)

CELERY_BEAT_SCHEDULE: dict = {
    # Monday 06:00 UTC; a digest of a past week is skipped rather than sent late (DigestSent).
    "dashboard-weekly-digest": {
        "task": "dashboard.tasks.digests_send_weekly",
        "schedule": crontab(minute=0, hour=6, day_of_week="mon"),
        "options": {"expires": 6 * 60 * 60},
    },
    # The dashboard's default views, computed ahead so a manager's page reads one row (issue #6);
    # a run not started within the interval is dropped: the next one does the same work.
    "dashboard-snapshots": {
        "task": "dashboard.tasks.snapshots_refresh",
        "schedule": float(DASHBOARD_SNAPSHOT_INTERVAL),
        "options": {"expires": float(DASHBOARD_SNAPSHOT_INTERVAL)},
    },
    "dispatch-due-followups": {
        "task": "followups.tasks.dispatch_due_followups",
        "schedule": float(FOLLOWUP_TICK_SECONDS),
        "options": {"expires": float(FOLLOWUP_TICK_SECONDS)},
    },
    # Web-form submissions no drain was asked for (posted while Redis was down), imports whose
    # task was lost, web-form confirmations and owner notices that a broker outage kept from
    # being sent: all idempotent sweeps of our own rows. A post asks for its drain at once
    # (debounced); this is the safety net, so a lead waits at most a minute after an outage.
    "intake-catch-up": {
        "task": "intake.tasks.intake_catch_up",
        "schedule": 60.0,
        "options": {"expires": 55.0},
    },
    "owner-notices-catch-up": {
        "task": "leads.tasks.owner_notices_catch_up_task",
        "schedule": 60.0,
        "options": {"expires": 55.0},
    },
}

# --- Intake: public web forms and CSV import (intake app) --------------------------------------
# Posts per client IP and window, through Django's cache (intake/ratelimit.py says why not a package).
WEBFORM_RATE_LIMIT = envint("WEBFORM_RATE_LIMIT", 10)
WEBFORM_RATE_WINDOW = envint("WEBFORM_RATE_WINDOW", 600)
# A form sent sooner than this after it was shown is a bot's: dropped silently.
WEBFORM_MIN_FILL_SECONDS = envint("WEBFORM_MIN_FILL_SECONDS", 3)
WEBFORM_MAX_BYTES = envint("WEBFORM_MAX_BYTES", 20_000)
# The same content posted again within this time is the same inquiry (one lead).
WEBFORM_IDEMPOTENCY_SECONDS = envint("WEBFORM_IDEMPOTENCY_SECONDS", 600)
# At most one confirmation email per address in this time (our form is no way to flood an inbox).
WEBFORM_CONFIRMATION_INTERVAL = envint("WEBFORM_CONFIRMATION_INTERVAL", 600)
# Number of reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none).
WEBFORM_TRUSTED_PROXIES = envint("WEBFORM_TRUSTED_PROXIES", 0)
IMPORT_MAX_BYTES = envint("IMPORT_MAX_BYTES", 25 * 1024 * 1024)
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", 200_000)

# --- REST API (api app) ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadFlow API",
    "DESCRIPTION": "Create, read and move leads; log activities. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"StageEnum": "leads.models.Lead.Stage", "ActivityKindEnum": "leads.models.Activity.Kind"},
    # Ids in paths are positive 64-bit integers (api/urls.py's converter): say so, so clients
    # and property-based tests stay inside what the database can hold.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 999999999999999999}
    },
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 60 * 60 * 12)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Every asset is served by the app and no page has inline script or style, so the policy can be
# strict. (Bootstrap's CSS uses data: SVGs for icons.)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# WhiteNoise serves static files in every mode; outside production it finds them where they
# live (static/ and node_modules), so no collectstatic step is needed to run or test.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
