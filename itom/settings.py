"""Settings for the ITOM portal, read from the environment (docs/operations.md lists them all).

Nothing here is meant to be edited per installation: set environment variables instead.
A malformed value stops start-up with an error naming the variable (see ``itom.env``).
"""

import re
import sys
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from itom import env
from itom.celery_routes import QUEUES, TASK_ROUTES

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.string("ITOM_VAR_DIR", str(BASE_DIR / "var"))).resolve()
RUNNING_TESTS = "pytest" in sys.modules

# --- Core -----------------------------------------------------------------------------------

DEBUG = env.boolean("DEBUG", False)
SECRET_KEY = env.secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS: {_origin!r} must start with http:// or https://")

INSTALLED_APPS = [
    "itom.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    # Portal apps, in import order (docs/architecture.md).
    "itom",
    "accounts",
    "cmdb",
    "slas",
    "incidents",
    "vendors",
    "changes",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "itom.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "itom.urls"
WSGI_APPLICATION = "itom.wsgi.application"
ASGI_APPLICATION = "itom.asgi.application"

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
                "itom.context_processors.portal",
                "itom.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

_database_url = env.secret("DATABASE_URL")
if _database_url:
    if not _database_url.startswith(("postgres://", "postgresql://", "sqlite://")):
        raise ImproperlyConfigured("DATABASE_URL: expected a postgres:// or sqlite:// URL")
    try:
        _database = dj_database_url.parse(
            _database_url, conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60, minimum=0)
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL: {exc}") from None
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "itom.sqlite3",
    }
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids lock upgrades.
    _database["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force protection (django-axes): lock a username+address pair after N failures.
AXES_FAILURE_LIMIT = env.integer("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env.integer("LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# How many trusted reverse proxies stand in front of the portal (see itom.net.client_ip).
PROXY_COUNT = env.integer("PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "itom.net.client_ip"

# --- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.string("TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE: unknown time zone {TIME_ZONE!r}") from None
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.string("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from it once collected
MEDIA_ROOT = Path(env.string("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names need `collectstatic`; tests and DEBUG serve straight from the apps.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or RUNNING_TESTS)
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}

# --- Security -------------------------------------------------------------------------------

HTTPS_ONLY = env.boolean("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = HTTPS_ONLY
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_HSTS_SECONDS = env.integer("HSTS_SECONDS", 31536000 if HTTPS_ONLY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
SECURE_HSTS_PRELOAD = env.boolean("HSTS_PRELOAD", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^livez$"]
if env.boolean("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.integer("SESSION_HOURS", 12, minimum=1) * 3600
X_FRAME_OPTIONS = "DENY"

# --- E-mail ---------------------------------------------------------------------------------

EMAIL_BACKEND = env.string(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env.string("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.string("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.boolean("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL: set at most one of them")
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "itom@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------

_broker_url = env.secret("CELERY_BROKER_URL")
if _broker_url:
    if not _broker_url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL: expected a redis:// or rediss:// URL (leave it unset for the embedded broker)"
        )
    CELERY_BROKER_URL = _broker_url
else:
    # The embedded default: kombu's filesystem transport, one folder shared by all processes.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_QUEUES = [Queue(name) for name in QUEUES]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = TASK_ROUTES
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = env.integer("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 10 if CELERY_TASK_TIME_LIMIT > 20 else None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.boolean("CELERY_TASK_ALWAYS_EAGER", False)
# Periodic tasks. django-celery-beat copies these into its tables at every beat start (so their
# schedules are set here); managers may disable one in the admin and that sticks.
# Monitoring's dispatcher period (seconds); it is also how far ahead a dispatch claims checks.
MONITORING_DISPATCH_SECONDS = env.integer("MONITORING_DISPATCH_SECONDS", 5, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "prune-audit-log": {"task": "itom.tasks.prune_audit_log", "schedule": 24 * 3600},
    # A scan that finds nothing to do is one index lookup; one left behind by a busy worker expires.
    "scan-sla-clocks": {"task": "slas.tasks.scan_sla_clocks", "schedule": 60, "options": {"expires": 55}},
    "auto-close-resolved-incidents": {"task": "incidents.tasks.auto_close_resolved", "schedule": 3600},
    "requeue-stalled-webhooks": {"task": "itom.tasks.requeue_stalled_webhooks", "schedule": 60},
    "prune-notifications": {"task": "itom.tasks.prune_notifications", "schedule": 24 * 3600},
    "daily-contract-check": {"task": "vendors.tasks.daily_contract_check", "schedule": 24 * 3600},
    # Monitoring: claim due checks and send their batches to the zones' queues (a dispatch that
    # waited longer than its own period is stale: the next one does its work).
    "dispatch-checks": {
        "task": "monitoring.tasks.dispatch_checks",
        "schedule": MONITORING_DISPATCH_SECONDS,
        "options": {"expires": MONITORING_DISPATCH_SECONDS},
    },
    "release-maintenance": {"task": "monitoring.tasks.release_maintenance", "schedule": 60, "options": {"expires": 55}},
    "rollup-results": {"task": "monitoring.tasks.rollup_results", "schedule": 3600},
    "prune-results": {"task": "monitoring.tasks.prune_results", "schedule": 3600},
}

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.APITokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["itom.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "itom.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "itom.api.exceptions.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITOM Portal API",
    "DESCRIPTION": "IT service and operations management: teams, audit, CMDB, incidents, changes, "
    "monitoring and vendors. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("state") or their values (impact and urgency) get
    # one stable name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "IncidentStateEnum": "incidents.choices.IncidentState",
        "ProblemStateEnum": "incidents.choices.ProblemState",
        "ImpactUrgencyEnum": "incidents.choices.Impact",
        "ClockStateEnum": "slas.choices.ClockState",
        "DeliveryStateEnum": "itom.choices.DeliveryState",
        "AttributeTypeEnum": "cmdb.choices.AttributeType",
        "ChangeTypeEnum": "changes.choices.ChangeType",
        "ChangeStateEnum": "changes.choices.ChangeState",
        "ApprovalStageStateEnum": "changes.choices.StageState",
        "TemplateStateEnum": "changes.choices.TemplateState",
        "RiskLevelEnum": "changes.choices.RiskLevel",
        "ContractTypeEnum": "vendors.choices.ContractType",
        "VendorStatusEnum": "vendors.choices.VendorStatus",
        "CIStatusEnum": "cmdb.choices.Status",
        "EscalationStateEnum": "vendors.choices.EscalationState",
        "CheckKindEnum": "monitoring.choices.CheckKind",
        "CheckStateEnum": "monitoring.choices.CheckState",
        "ResultStatusEnum": "monitoring.choices.ResultStatus",
        "SeverityEnum": "monitoring.choices.Severity",
        "AlertStatusEnum": "monitoring.choices.AlertStatus",
        "IntegrationKindEnum": "monitoring.choices.IntegrationKind",
    },
}
API_TOKEN_LAST_USED_RESOLUTION = 60  # seconds between last_used_at writes for one token

# --- Portal ---------------------------------------------------------------------------------

AUDIT_RETENTION_DAYS = env.integer("AUDIT_RETENTION_DAYS", 365, minimum=1)
PORTAL_NAME = env.string("PORTAL_NAME", "ITOM Portal")
# The largest file the CMDB import accepts (API body, upload or pasted text), in megabytes.
CMDB_IMPORT_MAX_MB = env.integer("CMDB_IMPORT_MAX_MB", 20, minimum=1)
# Resolved incidents close by themselves after this many days.
INCIDENT_AUTO_CLOSE_DAYS = env.integer("INCIDENT_AUTO_CLOSE_DAYS", 7, minimum=1)
# Incident attachments: the largest file, and the content types accepted.
ATTACHMENT_MAX_MB = env.integer("ATTACHMENT_MAX_MB", 10, minimum=1)
ATTACHMENT_CONTENT_TYPES = env.string_list(
    "ATTACHMENT_CONTENT_TYPES",
    [
        "text/plain",
        "text/csv",
        "application/pdf",
        "application/json",
        "application/zip",
        "image/png",
        "image/jpeg",
        "image/gif",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ],
)
# The weekly change advisory board meeting (in TIME_ZONE): weekday 0 = Monday … 6 = Sunday, and
# the time as HH:MM. The CAB page shows the agenda of the next one.
CHANGE_CAB_MEETING_WEEKDAY = env.integer("CHANGE_CAB_MEETING_WEEKDAY", 3, minimum=0)
if CHANGE_CAB_MEETING_WEEKDAY > 6:
    raise ImproperlyConfigured("CHANGE_CAB_MEETING_WEEKDAY: 0 (Monday) to 6 (Sunday)")
CHANGE_CAB_MEETING_TIME = env.string("CHANGE_CAB_MEETING_TIME", "14:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", CHANGE_CAB_MEETING_TIME):
    raise ImproperlyConfigured(f"CHANGE_CAB_MEETING_TIME: expected HH:MM, got {CHANGE_CAB_MEETING_TIME!r}")
# Outgoing webhooks: attempts per delivery (with exponential backoff) and the request timeout.
WEBHOOK_MAX_ATTEMPTS = env.integer("WEBHOOK_MAX_ATTEMPTS", 5, minimum=1)
WEBHOOK_TIMEOUT = env.integer("WEBHOOK_TIMEOUT", 10, minimum=1)
# The wait after a failed attempt: this many seconds, doubled after each further failure, capped.
WEBHOOK_BACKOFF_SECONDS = env.integer("WEBHOOK_BACKOFF_SECONDS", 30, minimum=1)
WEBHOOK_BACKOFF_MAX_SECONDS = env.integer("WEBHOOK_BACKOFF_MAX_SECONDS", 3600, minimum=1)
# Cloud metadata addresses (169.254.0.0/16, fd00:ec2::254) are refused as webhook targets unless on.
WEBHOOK_ALLOW_METADATA_ADDRESSES = env.boolean("WEBHOOK_ALLOW_METADATA_ADDRESSES", False)
# Monitoring (docs/monitoring.md). Raw check results are kept this many days (hourly rollups
# keep uptime and latency for MONITORING_ROLLUP_RETENTION_DAYS); the shortest interval a check
# may have; how many checks one batch task runs, and how many of them at once; a claimed check
# whose batch has not reported after its timeout plus MONITORING_RECLAIM_SECONDS is claimed again.
MONITORING_RESULT_RETENTION_DAYS = env.integer("MONITORING_RESULT_RETENTION_DAYS", 7, minimum=1)
MONITORING_ROLLUP_RETENTION_DAYS = env.integer("MONITORING_ROLLUP_RETENTION_DAYS", 400, minimum=1)
MONITORING_MIN_INTERVAL = env.integer("MONITORING_MIN_INTERVAL", 10, minimum=1)
MONITORING_BATCH_SIZE = env.integer("MONITORING_BATCH_SIZE", 200, minimum=1)
MONITORING_CONCURRENCY = env.integer("MONITORING_CONCURRENCY", 200, minimum=1)
MONITORING_RECLAIM_SECONDS = env.integer("MONITORING_RECLAIM_SECONDS", 60, minimum=1)
# Cloud metadata addresses are refused as check targets unless on (DESIGN.md §7).
MONITORING_ALLOW_METADATA_ADDRESSES = env.boolean("MONITORING_ALLOW_METADATA_ADDRESSES", False)
# Webhook deliveries and in-app notifications are deleted this many days after they were made.
WEBHOOK_DELIVERY_RETENTION_DAYS = env.integer("WEBHOOK_DELIVERY_RETENTION_DAYS", 30, minimum=1)
NOTIFICATION_RETENTION_DAYS = env.integer("NOTIFICATION_RETENTION_DAYS", 180, minimum=1)
# The portal's public address, for links in e-mails and webhooks (e.g. https://itom.example.com).
PORTAL_URL = env.string("PORTAL_URL", "")
if PORTAL_URL and not PORTAL_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PORTAL_URL: {PORTAL_URL!r} must start with http:// or https://")

LOG_LEVEL = env.string("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # One INFO line per HTTP request: far too many at the poller's volume.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
