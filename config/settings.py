"""Proactive settings. Everything comes from the environment; with no
variable set at all the embedded default runs (SQLite and a filesystem broker
under the data folder, email and SMS captured into the outbox)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import dj_email_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PROACTIVE_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DJANGO_ENV = env_choice("DJANGO_ENV", "development", {"development", "production", "test"})
PRODUCTION = DJANGO_ENV == "production"

_INSECURE_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _INSECURE_KEY)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production."
    )

DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "anymail",
    "accounts",
    "customers",
    "notifications",
    "delivery",
    "incidents",
    "tickets",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.logging.RequestLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "web.middleware.ViewerTimezoneMiddleware",
    "delivery.middleware.AnymailWebhookAuthMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "web" / "templates"],
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

# Database: DATABASE_URL, else SQLite in WAL mode under the data folder.
_default_sqlite = f"sqlite:///{DATA_DIR / 'proactive.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_sqlite),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: it starts on statements PostgreSQL estimates as
    # large (materialising 100,000 rows, marking a range of 50,000) and
    # costs more than it saves on them. Materialising a million with two
    # million rows in the table: 10.7–11.3 s with it, 9.4–10.0 s without.
    # Options given in DATABASE_URL (?options=…) come first and stay.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    # A file rather than memory, so that a worker or server started by a test
    # in another process sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Inactive users authenticate so that login can say "deactivated" instead
    # of "wrong password"; every entry point checks is_active itself.
    "django.contrib.auth.backends.AllowAllUsersModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

API_TOKEN_LIFETIME = timedelta(hours=env_int("API_TOKEN_LIFETIME_HOURS", 24 * 7, minimum=1))
# How long an emailed address-confirmation link works.
EMAIL_CONFIRMATION_HOURS = env_int("EMAIL_CONFIRMATION_HOURS", 48, minimum=1)

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)

# Reverse proxies in front of the service that append to X-Forwarded-For. With
# 0 the header is ignored (a client could write anything in it); with N the
# N-th address from the right is the client. Rate limits and the lockout above
# both key on that address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
RATE_LIMITS = {
    "login": env_rate("RATE_LIMIT_LOGIN", "30/min"),
    "signup": env_rate("RATE_LIMIT_SIGNUP", "30/min"),
    "confirmation_resend": env_rate("RATE_LIMIT_CONFIRMATION_RESEND", "5/hour"),
    # Each try of a current password is a guess at it.
    "password_change": "10/hour",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# collectstatic's target: the data folder, or (in the container image, where
# the files are collected at build time) a folder of the image.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
MEDIA_ROOT = DATA_DIR / "media"
# Attachments are never served from a public URL; downloads go through a view
# that checks who is asking.
MEDIA_URL = "/media-not-public/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# A JSON or form body over this is a 413 (the API's parsers apply it too).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_BODY_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# A multipart upload (attachment, customer CSV) over this is a 413.
UPLOAD_REQUEST_MAX_BYTES = env_int("UPLOAD_REQUEST_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ExpiringTokenAuthentication",
        "accounts.authentication.AccountSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "config.parsers.FormParser",
        "config.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Proactive API",
    "DESCRIPTION": "Customer directory, targeted notifications and tickets for providers.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the errors the framework can give (config/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "NotificationStatusEnum": "notifications.models.Notification.Status",
        "MessageStatusEnum": "delivery.models.MessageStatus",
        "ChannelEnum": "delivery.models.Channel",
        "NotificationKindEnum": "notifications.models.Notification.Kind",
        "TicketStatusEnum": "tickets.models.Status",
        "TicketEventKindEnum": "tickets.models.TicketEvent.Kind",
        "InteractionKindEnum": "tickets.models.Interaction.Kind",
        "ApprovalStatusEnum": "accounts.models.ApprovalStatus",
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "IncidentKindEnum": "incidents.models.Incident.Kind",
        "IncidentImpactEnum": "incidents.models.Incident.Impact",
        "IncidentUpdateKindEnum": "incidents.models.IncidentUpdate.Kind",
        "IncidentOpeningStatusEnum": ["draft", "investigating", "identified", "monitoring"],
        "AlertStatusEnum": ["firing", "resolved"],
    },
}

# Email: EMAIL_URL (smtp://user:pass@host:587/?tls=True), or an anymail
# provider through EMAIL_BACKEND + ANYMAIL_* variables; with neither, every
# email is captured into the outbox that staff can read.
EMAIL_URL = env_str("EMAIL_URL")
if EMAIL_URL:
    vars().update(dj_email_url.parse(EMAIL_URL))
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "delivery.outbox.OutboxEmailBackend")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Proactive <noreply@proactive.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Bearer token Prometheus Alertmanager sends to /api/alerts/alertmanager/; empty = webhook off.
ALERT_WEBHOOK_TOKEN = env_str("ALERT_WEBHOOK_TOKEN", "")
ANYMAIL = {
    key[len("ANYMAIL_") :]: value for key, value in os.environ.items() if key.startswith("ANYMAIL_")
}

# Deliverability: Message-IDs on the sending domain, DKIM signing (the key as
# PEM text or a path to it), send-rate ceilings shared by every worker.
EMAIL_MESSAGE_ID_DOMAIN = env_str("EMAIL_MESSAGE_ID_DOMAIN")
EMAIL_UNSUBSCRIBE_MAILTO = env_str("EMAIL_UNSUBSCRIBE_MAILTO")
DKIM_PRIVATE_KEY = env_str("DKIM_PRIVATE_KEY")
DKIM_SELECTOR = env_str("DKIM_SELECTOR")
DKIM_DOMAIN = env_str("DKIM_DOMAIN")
EMAIL_MAX_PER_SECOND = env_float("EMAIL_MAX_PER_SECOND", 0.0)
SMS_MAX_PER_SECOND = env_float("SMS_MAX_PER_SECOND", 0.0)
RATE_LIMIT_REDIS_URL = env_str("RATE_LIMIT_REDIS_URL")
# A general or marketing notification to more customers than this waits for
# a second staff member's approval.
LARGE_SEND_THRESHOLD = env_int("LARGE_SEND_THRESHOLD", 5000, minimum=1)

SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL")
SMS_INBOUND_TOKEN = env_str("SMS_INBOUND_TOKEN")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN")
SMS_GATEWAY_TIMEOUT = env_float("SMS_GATEWAY_TIMEOUT_SECONDS", 10.0)

# Delivery pipeline tuning.
DELIVERY_BATCH_SIZE = env_int("DELIVERY_BATCH_SIZE", 500, minimum=1)
DELIVERY_LANES = env_int("DELIVERY_LANES", 2, minimum=1)
# Lanes as processes forked for each drain task (True) or threads (False);
# see delivery/lanes.py.
DELIVERY_LANE_PROCESSES = env_bool("DELIVERY_LANE_PROCESSES", False)
# Workers run this much nicer than the website (see config/celery.py).
WORKER_NICENESS = env_int("WORKER_NICENESS", 10, minimum=0)
DELIVERY_LEASE_SECONDS = env_int("DELIVERY_LEASE_SECONDS", 120, minimum=5)
# Set by `make run`, whose worker is the only one on its database: on start
# the worker gives back at once the claims a dead predecessor left (their
# lease would otherwise hold them for DELIVERY_LEASE_SECONDS).
DELIVERY_SOLE_WORKER = env_bool("DELIVERY_SOLE_WORKER", False)
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 8, minimum=1)
DELIVERY_RETRY_BASE_SECONDS = env_int("DELIVERY_RETRY_BASE_SECONDS", 30, minimum=1)
DELIVERY_RETRY_MAX_SECONDS = env_int("DELIVERY_RETRY_MAX_SECONDS", 3600, minimum=1)
DAILY_REPORT_HOUR = env_int("DAILY_REPORT_HOUR", 7, minimum=0)
DAILY_REPORT_MINUTE = env_int("DAILY_REPORT_MINUTE", 0, minimum=0)
# Message rows, outbox copies and transactional messages are deleted this
# many days after their notification finished (or they were written); the
# statistics keep their counts. See delivery/retention.py.
MESSAGE_RETENTION_DAYS = env_int("MESSAGE_RETENTION_DAYS", 400, minimum=1)
RETENTION_HOUR = env_int("RETENTION_HOUR", 3, minimum=0)
# Links in emails; by default the address `make run` serves (its PORT).
PUBLIC_BASE_URL = env_str(
    "PUBLIC_BASE_URL", f"http://localhost:{env_int('PORT', 8000, minimum=1)}"
).rstrip("/")

# Quotas: what one client may store or make the service produce.
NOTIFICATION_BODY_MAX_CHARS = env_int("NOTIFICATION_BODY_MAX_CHARS", 20_000, minimum=1)
NOTIFICATION_BODY_HTML_MAX_CHARS = env_int("NOTIFICATION_BODY_HTML_MAX_CHARS", 100_000, minimum=1)
# A message whose rendered subject, text and HTML together pass this fails
# (last_error says why) instead of being sent.
RENDERED_MESSAGE_MAX_BYTES = env_int("RENDERED_MESSAGE_MAX_BYTES", 256 * 1024, minimum=1024)
TICKET_ATTACHMENTS_MAX_COUNT = env_int("TICKET_ATTACHMENTS_MAX_COUNT", 20, minimum=1)
CUSTOMER_ATTACHMENTS_MAX_BYTES = env_int(
    "CUSTOMER_ATTACHMENTS_MAX_BYTES", 100 * 1024 * 1024, minimum=1
)
# Tickets one customer account may raise (DRF throttle rate: n/second|minute|hour|day).
TICKET_CREATE_RATE = env_str("TICKET_CREATE_RATE", "10/hour")
# Paths answered from a copy of Django's response rebuilt at most every
# PREBUILT_SECONDS, before Django (config/prebuilt.py): the public status
# documents, the same for everyone.
PREBUILT_PATHS = ["/status/", "/api/status/", "/status/feed.atom"]
PREBUILT_SECONDS = env_int("STATUS_CACHE_SECONDS", 10, minimum=1)

# Django's cache (the public status document): per process by default;
# CACHE_URL=redis://… shares one copy between all web processes.
_CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: the database is the queue; the broker only says "there is work".
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often the worker looks for a new task file. Kombu's default
        # (1 s) was waited out once per hop of a send (materialise →
        # dispatch → drain); an idle worker's extra CPU at 0.1 s is measured
        # by `python -m bench first`.
        "polling_interval": env_float("BROKER_POLLING_INTERVAL_SECONDS", 0.1),
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-messages": {
        "task": "delivery.tasks.dispatch_due_messages",
        "schedule": env_float("DISPATCH_INTERVAL_SECONDS", 2.0),
    },
    "start-due-notifications": {
        "task": "notifications.tasks.start_due_notifications",
        "schedule": env_float("SCHEDULER_INTERVAL_SECONDS", 5.0),
    },
    "advance-maintenance": {
        "task": "incidents.tasks.advance_maintenance",
        "schedule": env_float("MAINTENANCE_INTERVAL_SECONDS", 5.0),
    },
    "send-daily-report": {
        "task": "notifications.tasks.send_daily_report",
        "schedule": crontab(hour=DAILY_REPORT_HOUR, minute=DAILY_REPORT_MINUTE),
    },
    "purge-old-messages": {
        "task": "delivery.tasks.purge_old_messages",
        "schedule": crontab(hour=RETENTION_HOUR, minute=30),
    },
    "reorder-customer-search": {
        "task": "customers.tasks.reorder_search",
        "schedule": crontab(hour=RETENTION_HOUR, minute=50),
    },
    "escalate-overdue-tickets": {
        "task": "tickets.tasks.escalate_overdue_tickets",
        "schedule": env_float("ESCALATION_INTERVAL_SECONDS", 60.0),
    },
    "purge-expired-tokens": {
        "task": "accounts.tasks.purge_expired_tokens",
        "schedule": env_float("TOKEN_PURGE_INTERVAL_SECONDS", 3600.0),
    },
    "assign-waiting-tickets": {
        "task": "tickets.tasks.assign_waiting_tickets",
        "schedule": env_float("ASSIGNMENT_INTERVAL_SECONDS", 60.0),
    },
}

# Security: production is locked down; development stays convenient.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Health checks and Prometheus call the service directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must name the site's host names in production.")

LOG_FORMAT = env_choice("LOG_FORMAT", "json" if PRODUCTION else "text", {"json", "text"})
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FILE = env_str("PROACTIVE_LOG_FILE")
LOG_FILE_MAX_BYTES = env_int("PROACTIVE_LOG_FILE_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
LOG_FILE_BACKUPS = env_int("PROACTIVE_LOG_FILE_BACKUPS", 5, minimum=0)
_log_filters = ["context"] if LOG_FORMAT == "text" else []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": _log_filters,
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # Celery's own line per task ("received", "succeeded") and per beat
        # tick would be ~200 lines a minute of an idle service; the project's
        # own lines say what each task did, and only when it did something.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
        "kombu": {"level": "WARNING"},
    },
}
if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "class": "logging.handlers.RotatingFileHandler",
        "filename": LOG_FILE,
        "maxBytes": LOG_FILE_MAX_BYTES,
        "backupCount": LOG_FILE_BACKUPS,
        "encoding": "utf-8",
        "formatter": LOG_FORMAT,
        "filters": _log_filters,
    }
    LOGGING["root"]["handlers"].append("file")
# Celery workers and beat log through the LOGGING above (see config/celery.py)
# instead of replacing the root logger's handlers with their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics: a bearer token, and/or client addresses (or networks) let in
# without one (the address of the direct peer, never a forwarded header).
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")

DEMO_SEED_CUSTOMERS = env_int("DEMO_SEED_CUSTOMERS", 300, minimum=0)
