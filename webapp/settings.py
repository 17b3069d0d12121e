"""Django settings, read from environment variables (see README.md for the full list).

With no environment at all the site runs on embedded defaults: SQLite and an embedded Redis
in ./var, media on local disk, console e-mail. DATABASE_URL and REDIS_URL select production
services.
"""

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from webapp import embedded_redis
from webapp.env import Env

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.str("FRAMECRAFT_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DJANGO_DEBUG", True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("Environment variable DJANGO_SECRET_KEY is required when "
                                   "DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-framecraft-development-only"

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "channels",
    "django_htmx",
    "csp",
    "allauth",
    "allauth.account",
    "accounts",
    "generation",
    "api",
    "storyboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # NUL or a lone surrogate in a URL or query: 404/400 before a lookup fails as a 500.
    "generation.text_guard.StorableTextMiddleware",
    # PostgreSQL or Redis away: a 503 that says to retry, not a 500 (webapp/unavailable.py).
    "webapp.unavailable.ServiceDownMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = "webapp.wsgi.application"
SITE_ID = 1
# What e-mails call the site and link to (accounts.apps.name_the_site writes both to Site 1):
# by default the first allowed host that names one domain ("*" names none).
FRAMECRAFT_SITE_NAME = env.str("FRAMECRAFT_SITE_NAME", "Framecraft")
FRAMECRAFT_SITE_DOMAIN = env.str("FRAMECRAFT_SITE_DOMAIN", next(
    (host.lstrip(".") for host in ALLOWED_HOSTS if host != "*"), "localhost"))

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env.url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    # Under ASGI each request may run on another thread, so persistent connections are off.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["NAME"] = str(Path(DATABASES["default"]["NAME"]).resolve())
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file-backed test database, so that the worker processes the tests start share it.
    DATABASES["default"].setdefault("TEST", {"NAME": f"{DATABASES['default']['NAME']}.test"})
    # The web server and the worker write concurrently: WAL plus immediate transactions and
    # a busy timeout avoid "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
# A pool of PostgreSQL connections per process (Django's psycopg pool; needs psycopg-pool),
# at most this many: under ASGI every request runs on a thread of its own with a connection of
# its own, so a busy web process would otherwise open as many as it has requests in flight
# and a few processes take all of PostgreSQL's max_connections. Requests past the pool wait
# for a connection (DB_POOL_TIMEOUT seconds, then an error). 0: no pool, a connection per
# request, opened and closed.
DB_POOL_SIZE = env.int("FRAMECRAFT_DB_POOL_SIZE", 0, min_value=0)
DB_POOL_TIMEOUT = env.int("FRAMECRAFT_DB_POOL_TIMEOUT", 30, min_value=1)
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": DB_POOL_SIZE, "timeout": DB_POOL_TIMEOUT}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: broker, channel layer, cache ----------------------------------------------------

REDIS_URL = env.url("REDIS_URL", ("redis", "rediss", "unix")) or embedded_redis.url(DATA_DIR)
REDIS_IS_EMBEDDED = env.str("REDIS_URL") is None
if os.environ.get("PYTEST_VERSION") and not REDIS_IS_EMBEDDED and REDIS_URL.startswith("redis"):
    # Several test runs may share this machine's PostgreSQL and Redis (webapp/test_runs.py).
    from webapp import test_runs

    REDIS_URL = test_runs.isolate(REDIS_URL, DATABASES["default"])

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py's default 5 s socket timeout would cut the layer's own 5 s blocking reads.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                   "prefix": "framecraft"},
    }
}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "framecraft",
    }
}

# --- Celery: long GPU jobs ------------------------------------------------------------------

# The longest a generation may run. The hard time limit stays below the broker's visibility
# timeout so that Redis never hands a still-running job to a second worker.
JOB_TIME_LIMIT = env.int("FRAMECRAFT_JOB_TIME_LIMIT", 2 * 3600, min_value=60)
CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://")
    if REDIS_URL.startswith("unix://")
    else REDIS_URL
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": JOB_TIME_LIMIT + 3600}
CELERY_TASK_TIME_LIMIT = JOB_TIME_LIMIT
CELERY_TASK_SOFT_TIME_LIMIT = JOB_TIME_LIMIT - 30
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "generation"
# Weight downloads go to their own queue, so an operator can give them a worker of their own.
CELERY_MODELS_QUEUE = "models"
# Generation queues, one per GPU class (e.g. `gpu-24g,gpu-80g`): every job is hinted on each,
# and a worker (started with `--queues` naming its class) claims only what it can run.
FRAMECRAFT_JOB_QUEUES = env.list("FRAMECRAFT_JOB_QUEUES", [CELERY_TASK_DEFAULT_QUEUE])
# The reaper and hint top-up: served by the webhooks worker (no GPU), never behind a job.
CELERY_HOUSEKEEPING_QUEUE = "housekeeping"
CELERY_TASK_ROUTES = {
    "framecraft.reap_stale_jobs": {"queue": CELERY_HOUSEKEEPING_QUEUE},
    "framecraft.model_operation": {"queue": CELERY_MODELS_QUEUE},
    "framecraft.remove_background": {"queue": CELERY_MODELS_QUEUE},
    # Small CPU work asked for from the studio: never behind the GPU queue's long jobs.
    "framecraft.control_preview": {"queue": CELERY_MODELS_QUEUE},
    "framecraft.track_mask": {"queue": CELERY_MODELS_QUEUE},
    "framecraft.join_storyboard": {"queue": CELERY_MODELS_QUEUE},
}

# --- Jobs -----------------------------------------------------------------------------------

FRAMECRAFT_MAX_ACTIVE_JOBS = env.int("FRAMECRAFT_MAX_ACTIVE_JOBS", 4, min_value=1)
# Submissions per user per minute (on top of the cap on jobs waiting or running).
FRAMECRAFT_SUBMIT_RATE = env.str("FRAMECRAFT_SUBMIT_RATE", "20/m")
FRAMECRAFT_MAX_ATTEMPTS = env.int("FRAMECRAFT_MAX_ATTEMPTS", 3, min_value=1)
FRAMECRAFT_HEARTBEAT_SECONDS = env.float("FRAMECRAFT_HEARTBEAT_SECONDS", 10.0, min_value=0.1)
FRAMECRAFT_STALE_AFTER_SECONDS = env.float("FRAMECRAFT_STALE_AFTER_SECONDS", 120.0,
                                           min_value=1.0)
FRAMECRAFT_PROGRESS_INTERVAL = env.float("FRAMECRAFT_PROGRESS_INTERVAL", 0.25, min_value=0.0)
FRAMECRAFT_MODELS_DIR = Path(env.str("FRAMECRAFT_MODELS_DIR", str(DATA_DIR / "models")))
# GPUs one worker drives as a process group (`python -m worker.group`): a host with four runs
# one worker of 4 or four plain workers of 1.
FRAMECRAFT_GPUS_PER_WORKER = env.int("FRAMECRAFT_GPUS_PER_WORKER", 1, min_value=1)

# --- Metrics (Prometheus, /metrics) -----------------------------------------------------------
# Off unless a bearer token or an allow-list is set; with both, either lets a scraper in.
FRAMECRAFT_METRICS_TOKEN = env.str("FRAMECRAFT_METRICS_TOKEN")
FRAMECRAFT_METRICS_ALLOW = env.addresses("FRAMECRAFT_METRICS_ALLOW", [])
# The catalogue (worker/catalogue) is framework-free and reads the folder from the
# environment; give it the same default.
os.environ.setdefault("FRAMECRAFT_MODELS_DIR", str(FRAMECRAFT_MODELS_DIR))
# The built-in demo models (random weights, noise-like output) so that every task can be
# tried on a fresh machine; production turns them off. Validated here, read by the catalogue
# (web tier and workers alike) from the environment.
FRAMECRAFT_DEMO_MODELS = env.bool("FRAMECRAFT_DEMO_MODELS", True)
os.environ["FRAMECRAFT_DEMO_MODELS"] = "1" if FRAMECRAFT_DEMO_MODELS else "0"
# The reaper runs from Celery beat (embedded in `make run`'s worker, its own service in
# production) a few times per stale period.
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {
        "task": "framecraft.reap_stale_jobs",
        "schedule": max(1.0, FRAMECRAFT_STALE_AFTER_SECONDS / 4),
    }
}

# --- API -----------------------------------------------------------------------------------

# Requests per API key (django-ratelimit syntax); job creation also counts against
# FRAMECRAFT_SUBMIT_RATE like the studio's form.
FRAMECRAFT_API_RATE = env.str("FRAMECRAFT_API_RATE", "120/m")
# How long an Idempotency-Key keeps returning the job it made.
FRAMECRAFT_IDEMPOTENCY_HOURS = env.int("FRAMECRAFT_IDEMPOTENCY_HOURS", 24, min_value=1)
CELERY_WEBHOOKS_QUEUE = "webhooks"
CELERY_TASK_ROUTES["framecraft.deliver_webhook"] = {"queue": CELERY_WEBHOOKS_QUEUE}
FRAMECRAFT_WEBHOOK_ATTEMPTS = env.int("FRAMECRAFT_WEBHOOK_ATTEMPTS", 6, min_value=1)
# Retries wait this long, doubling each time (10 s, 20 s, 40 s …).
FRAMECRAFT_WEBHOOK_BACKOFF_SECONDS = env.float("FRAMECRAFT_WEBHOOK_BACKOFF_SECONDS", 10.0,
                                               min_value=0.0)
FRAMECRAFT_WEBHOOK_TIMEOUT_SECONDS = env.float("FRAMECRAFT_WEBHOOK_TIMEOUT_SECONDS", 10.0,
                                               min_value=0.1)
# At most one `progress` delivery per job in this many seconds.
FRAMECRAFT_WEBHOOK_PROGRESS_SECONDS = env.float("FRAMECRAFT_WEBHOOK_PROGRESS_SECONDS", 5.0,
                                                min_value=0.0)
# Webhook URLs that resolve to private, loopback or link-local addresses are refused (SSRF)
# unless this is on, for a studio whose receivers live on its own network.
FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE = env.bool("FRAMECRAFT_WEBHOOK_ALLOW_PRIVATE", False)

# --- Accounts -------------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.choice("FRAMECRAFT_EMAIL_VERIFICATION", "optional",
                                        ("none", "optional", "mandatory"))
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "studio"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

EMAIL_HOST = env.str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.int("EMAIL_PORT", 587, min_value=1)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Framecraft <noreply@localhost>")

# --- Static and media -----------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Private media is never served from a public URL: only permission-checked views read it.
MEDIA_ROOT = Path(env.str("FRAMECRAFT_MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media-not-public/"
WHITENOISE_USE_FINDERS = DEBUG
STORAGES: dict[str, dict[str, Any]] = {
    # Written whole or not at all: a kill or a full disk leaves no half file (webapp/storage.py).
    "default": {"BACKEND": "webapp.storage.AtomicFileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Pluggable storage for videos and posters: local disk, or any S3-compatible object store.
FRAMECRAFT_STORAGE = env.choice("FRAMECRAFT_STORAGE", "local", ("local", "s3"))
if FRAMECRAFT_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("FRAMECRAFT_S3_BUCKET", required=True),
            "endpoint_url": env.str("FRAMECRAFT_S3_ENDPOINT_URL"),
            "region_name": env.str("FRAMECRAFT_S3_REGION"),
            "access_key": env.str("FRAMECRAFT_S3_ACCESS_KEY"),
            "secret_key": env.str("FRAMECRAFT_S3_SECRET_KEY"),
            # Private objects, reached only through short-lived signed URLs.
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("FRAMECRAFT_S3_URL_SECONDS", 600, min_value=10),
            "file_overwrite": False,
        },
    }
# With a proxy in front (nginx: an `internal` location aliasing the media folder), Django
# checks permission and the proxy sends the bytes.
FRAMECRAFT_MEDIA_ACCEL_PREFIX = env.str("FRAMECRAFT_MEDIA_ACCEL_PREFIX")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Uploads (generation/uploads.py): checked by content; the size while the body streams in.
FRAMECRAFT_MAX_UPLOAD_MB = env.int("FRAMECRAFT_MAX_UPLOAD_MB", 200, min_value=1)
# A LoRA of a 14B model at rank 32 is some 300 MB; the page that takes them allows more.
FRAMECRAFT_MAX_LORA_MB = env.int("FRAMECRAFT_MAX_LORA_MB", 1024, min_value=1)
FRAMECRAFT_MAX_IMAGE_PIXELS = env.int("FRAMECRAFT_MAX_IMAGE_PIXELS", 40_000_000,
                                      min_value=64 * 64)
FRAMECRAFT_MAX_UPLOAD_SECONDS = env.float("FRAMECRAFT_MAX_UPLOAD_SECONDS", 60.0, min_value=1.0)
FRAMECRAFT_MAX_VIDEO_SIDE = env.int("FRAMECRAFT_MAX_VIDEO_SIDE", 3840, min_value=64)
FRAMECRAFT_STORAGE_QUOTA_MB = env.int("FRAMECRAFT_STORAGE_QUOTA_MB", 2048, min_value=0)
FRAMECRAFT_UPLOAD_RATE = env.str("FRAMECRAFT_UPLOAD_RATE", "30/m")

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000,
                              min_value=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", False)
if env.bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preload is a one-way commitment an operator opts into; not asking for it is no warning.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Where a reverse proxy may connect from: only these peers' X-Forwarded-For/-Proto are
# believed (uvicorn --forwarded-allow-ips; the launcher and the web image pass this list).
# Anyone else is seen at their own address, so per-address sign-in limits hold.
FRAMECRAFT_TRUSTED_PROXIES = env.addresses("FRAMECRAFT_TRUSTED_PROXIES", ["127.0.0.1"])
# allauth keys its rate limits on REMOTE_ADDR, which uvicorn has already resolved; it must
# not read X-Forwarded-For (or another client-IP header) itself.
ALLAUTH_TRUSTED_PROXY_COUNT = 0
X_FRAME_OPTIONS = "DENY"


def _s3_media_origins() -> list[str]:
    """Where signed media URLs point when videos live in object storage."""
    if FRAMECRAFT_STORAGE != "s3":
        return []
    options: dict[str, Any] = STORAGES["default"]["OPTIONS"]
    bucket, endpoint = options["bucket_name"], options["endpoint_url"]
    if endpoint:
        scheme, _, rest = endpoint.partition("://")
        host = rest.split("/", 1)[0]
        # Path-style (endpoint/bucket/key) or virtual-hosted (bucket.endpoint/key) addressing.
        return [f"{scheme}://{host}", f"{scheme}://{bucket}.{host}"]
    origins = [f"https://{bucket}.s3.amazonaws.com"]
    if options["region_name"]:
        origins.append(f"https://{bucket}.s3.{options['region_name']}.amazonaws.com")
    return origins


# Content-Security-Policy (django-csp): scripts and styles from the studio only, no inline
# code or style attributes. 'self' in connect-src covers the same-origin websocket (CSP 3).
# Job previews are data: URLs.
_MEDIA_ORIGINS = _s3_media_origins()
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *_MEDIA_ORIGINS],
        "media-src": ["'self'", *_MEDIA_ORIGINS],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_REFERRER_POLICY = "same-origin"

# --- Misc -----------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.choice(
        "FRAMECRAFT_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
