"""Settings shared by every environment; everything that differs comes from the environment.

Nothing set: SQLite in the project folder and Celery's filesystem broker, so a
first run needs no server. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to
PostgreSQL and Redis.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-not-for-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "opsdesk.apps.APITokensConfig",  # django-rest-knox, named "API tokens" in the admin
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_tables2",
    "django_htmx",
    "axes",
    "csp",
    "opsdesk",
    "incidents",
    "changes",
    "releases",
    "metrics",
    "alerts",
    "automation",
    "desk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # 413 for an oversized body, 503 + Retry-After while the database is unreachable.
    "opsdesk.middleware.RequestLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Every 403 into the audit log, logged once (opsdesk/audit.py).
    "opsdesk.audit.AuditMiddleware",
    # Lockout after repeated failed logins (django-axes): last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out user and address before the password check
    "django.contrib.auth.backends.ModelBackend",
]

# Login lockout (§6): 5 failures lock that username from that address for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a proxy, the client's address is the last of X-Forwarded-For that many hops back.
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Content-Security-Policy (django-csp): everything from OpsDesk itself, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline style attributes (progress bars, admin layout) are allowed; inline script never is.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

ROOT_URLCONF = "opsdesk.urls"
WSGI_APPLICATION = "opsdesk.wsgi.application"

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
                "opsdesk.context_processors.navigation",
                "incidents.context_processors.major_incidents",
                "changes.context_processors.awaiting_approval",
            ],
            "builtins": ["opsdesk.templatetags.opsdesk_format"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Persistent connections (seconds; 0 closes after each request). Django reads it per database,
# not as a top-level setting. Health checks replace a connection that died (database restart).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Covering indexes (INCLUDE columns, for index-only scans of the lists at scale) are PostgreSQL's;
# SQLite builds them on their key columns alone, which is correct there: not worth a warning at
# every migrate of the embedded set-up (bench/NOTES.md).
SILENCED_SYSTEM_CHECKS = ["models.W040"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
FORMAT_MODULE_PATH = ["opsdesk.formats"]  # one date format on every page and in the admin
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

# Email: Django's backend; SMTP configured from the environment.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # for the filebased backend
# A send must end well within the outbox's sending lease (opsdesk.notifications.SENDING_LEASE).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="opsdesk@localhost")
OPSDESK_BASE_URL = env("OPSDESK_BASE_URL", default="http://127.0.0.1:8000")

# Celery: the filesystem broker needs no server; CELERY_BROKER_URL=redis://… for production.
# Socket timeouts bound every broker call: a hung broker (accepting, never answering)
# fails a publish in seconds instead of blocking the publishing thread for good.
REDIS_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 10}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery" / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_BROKER_TRANSPORT_OPTIONS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when the broker is down: the outbox keeps the row
# and the retry sweep delivers it later. Workers override the retry settings
# (opsdesk/celery.py): they wait for the broker for ever.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_MAX_RETRIES = 0
CELERY_TASK_PUBLISH_RETRY = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "retry-notifications": {
        "task": "opsdesk.retry_notifications",
        "schedule": timedelta(minutes=1),
    },
    "sla-sweep": {
        "task": "incidents.sla_sweep",
        "schedule": timedelta(minutes=1),
    },
    "change-conflicts": {
        "task": "changes.refresh_conflicts",
        "schedule": timedelta(minutes=15),
    },
    "routine-digest": {
        "task": "incidents.send_routine_digests",
        "schedule": crontab(hour=7, minute=0),
    },
    "metric-snapshot": {
        "task": "metrics.snapshot_yesterday",
        "schedule": crontab(hour=0, minute=15),
    },
    "metric-rollups": {
        "task": "metrics.refresh_rollups",
        "schedule": timedelta(minutes=5),
    },
    "weekly-report": {
        "task": "metrics.weekly_report",
        "schedule": crontab(hour=7, minute=30, day_of_week="mon"),
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opsdesk.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "opsdesk.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "opsdesk.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "opsdesk.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "opsdesk.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_TTL_DAYS", default=90)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OpsDesk API",
    "DESCRIPTION": "Incidents, changes, releases and process metrics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AutomationRuleKeyEnum": "automation.choices.RuleKey",
        "AutomationRunOutcomeEnum": "automation.choices.RunOutcome",
        "AlertSourceKindEnum": "alerts.choices.SourceKind",
        "AlertStatusEnum": "alerts.choices.AlertStatus",
        # Named here since alerts and the incident detail brought fields of the same names:
        "DeploymentStatusEnum": "releases.choices.DeploymentStatus",
        "IncidentStateEnum": "incidents.choices.IncidentState",
        "IncidentStepStateEnum": "incidents.choices.StepState",
        "ActionItemStateEnum": "incidents.choices.ActionItemState",
    },
}

# Alert intake: the largest body a monitoring source may send (larger: 413).
OPSDESK_ALERT_MAX_BODY_BYTES = env.int("OPSDESK_ALERT_MAX_BODY_BYTES", default=1024 * 1024)

# Notification retries: attempts before a row stays failed for good.
OPSDESK_NOTIFICATION_MAX_ATTEMPTS = env.int("OPSDESK_NOTIFICATION_MAX_ATTEMPTS", default=10)

# Major incidents: minutes without a status update before the sweep reminds (§2.1).
OPSDESK_STATUS_UPDATE_MINUTES = env.int("OPSDESK_STATUS_UPDATE_MINUTES", default=30)
OPSDESK_LIVE_POLL_SECONDS = env.int("OPSDESK_LIVE_POLL_SECONDS", default=15)  # the incident page polls its live parts

# Satisfaction survey (§5): days a survey link stays valid.
OPSDESK_SURVEY_MAX_AGE_DAYS = env.int("OPSDESK_SURVEY_MAX_AGE_DAYS", default=14)

# Insights (§5): the fewest items behind a figure in each period for a difference to count, and
# the smallest change that is news (relative for durations, counts and scores; points for rates).
OPSDESK_INSIGHT_MIN_SAMPLE = env.int("OPSDESK_INSIGHT_MIN_SAMPLE", default=5)
OPSDESK_INSIGHT_MIN_CHANGE = env.float("OPSDESK_INSIGHT_MIN_CHANGE", default=0.2)
OPSDESK_INSIGHT_MIN_RATE_POINTS = env.float("OPSDESK_INSIGHT_MIN_RATE_POINTS", default=0.1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A 403 is logged once, in one line, by opsdesk.audit (not with a traceback by django.request).
    "filters": {"skip_forbidden": {"()": "opsdesk.log_filters.SkipForbidden"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"filters": ["skip_forbidden"]}},
}

# Attachments on incidents and changes: stored through the default storage (``STORAGES``,
# files under MEDIA_ROOT unless production configures S3), served only through the
# permission-checked download view, never from MEDIA_URL.
MEDIA_ROOT = env.path("OPSDESK_MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "/media-not-served/"
OPSDESK_ATTACHMENT_MAX_BYTES = env.int("OPSDESK_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
OPSDESK_ATTACHMENT_TYPES = env.list("OPSDESK_ATTACHMENT_TYPES", default=[
    "image/png", "image/jpeg", "image/gif", "image/webp",
    "text/plain", "text/csv", "application/json", "application/pdf",
    "application/zip", "application/gzip", "application/x-gzip", "application/x-tar",
])
