"""Settings, read from the environment so that a fresh clone runs with none of them set.

DATABASE_URL   database (default: SQLite file db.sqlite3 in the project root)
SECRET_KEY     Django secret key (SECRET_KEY_FILE: a file holding it)
DEBUG          "1" for development pages and errors
ALLOWED_HOSTS  comma-separated host names
REDIS_URL      cache (rate limits, lockouts, scan cards) and the scan log's stream in Redis instead of process memory
SCAN_LOG_STREAM  "0": write every scan at once even with Redis (inspections/scan_log.py)
CACHE_KEY_PREFIX  prefix of this deployment's cache keys, where several share one Redis
DATABASE_REPLICA_URL  a read replica for statistics, exports, public pages and open data (core/replica.py)
DATABASE_SERVER_SIDE_BINDING  "1": PostgreSQL binds parameters and keeps often-run statements prepared
SMS_BACKEND    dotted path of the SMS backend class
CODE_BASE_URL  the https origin printed in inspection codes (e.g. https://jcm.example.gov.cn)
CODE_SIGNING_KEY_DIR  directory of the Ed25519 signing keys (CODE_SIGNING_KEY: one PEM key instead)
GOV_APP_WEBHOOK_URL / GOV_APP_WEBHOOK_SECRET  the government service app's webhook and its HMAC secret
SESSION_IDLE_MINUTES / SESSION_MAX_HOURS  staff sessions: idle timeout and maximum length
SECURE_SSL_REDIRECT / SECURE_HSTS_SECONDS / SECURE_PROXY_SSL_HEADER  HTTPS (on when DEBUG is off)
SENDFILE_BACKEND / SENDFILE_URL  who sends stored files ("simple" or "nginx") and nginx's internal location
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    """A setting from NAME, or from the file named by NAME_FILE (for secrets)."""
    file_name = os.getenv(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.getenv(name, default)


DEBUG = env("DEBUG", "1") == "1"
SECRET_KEY = env("SECRET_KEY") or ("dev-insecure-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "axes",
    "django_q",
    "ninja",  # the API's docs page takes its Swagger UI assets from ninja/static (no CDN)
    "jianchama.core",
    "jianchama.registry",
    "jianchama.notifications",
    "jianchama.plans",
    "jianchama.inspections",
    "jianchama.portal",
    "jianchama.supervision",
    "jianchama.complaints",
    "jianchama.statistics",
    "jianchama.opendata",
    "jianchama.reports",
    "jianchama.integrations",
    "jianchama.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the header built once per process (core/csp.py).
    "jianchama.core.csp.CSPMiddleware",
    # A scan from a client without a session skips the rest of the list (portal/middleware.py).
    "jianchama.portal.middleware.ScanFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "jianchama.core.replica.ReadYourWritesMiddleware",
    "jianchama.core.middleware.StaffSessionLimitsMiddleware",
    "jianchama.core.middleware.OutOfRangeInputMiddleware",
    "jianchama.core.middleware.ChineseNotFoundMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "jianchama.integrations.middleware.IdempotencyMiddleware",
]

ROOT_URLCONF = "jianchama.urls"
WSGI_APPLICATION = "jianchama.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "src" / "jianchama" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jianchama.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if env("DATABASE_SERVER_SIDE_BINDING") == "1" and "postgresql" in DATABASES["default"]["ENGINE"]:
    # psycopg then binds parameters on the server and prepares the statements a connection runs often, so
    # PostgreSQL plans them once instead of at every run: the scan page's queries took longer to plan than
    # to run (bench/bench_scan.py). Not behind a pooler in transaction mode (PgBouncer's default), where
    # a prepared statement may be missing on the next server connection.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )
# A read replica (core/replica.py): statistics, exports, public pages and open data read from it; a client
# that just wrote reads the primary for READ_YOUR_WRITES_SECONDS; an unreachable replica is skipped for
# REPLICA_RETRY_SECONDS. In tests it mirrors the default database.
if env("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(env("DATABASE_REPLICA_URL"), conn_max_age=60)
    DATABASES["replica"].setdefault("OPTIONS", {}).update({"connect_timeout": 2})
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["jianchama.core.replica.ReplicaRouter"]
READ_YOUR_WRITES_SECONDS = int(env("READ_YOUR_WRITES_SECONDS", "30"))
REPLICA_RETRY_SECONDS = int(env("REPLICA_RETRY_SECONDS", "10"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "jianchama.core.auth.PhoneCodeBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"

# Lockout of staff accounts after repeated failed passwords (django-axes).
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(env("AXES_COOLOFF_HOURS", "0.5"))  # hours
# Locked per account *and* address: five wrong passwords from one address lock that account from that
# address only, so whoever guesses from elsewhere cannot lock the owner out of his own desk. Guessing many
# accounts or from many tries at one address is the staff-login rate limit's job (LOGIN_RATE_STAFF).
AXES_LOCKOUT_PARAMETERS = "jianchama.core.auth.lockout_parameters"  # [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    # Django's Redis backend, keeping one client per pool (core/cache.py says why).
    CACHES = {
        "default": {
            "BACKEND": "jianchama.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that does not answer costs a request a quarter of a second at most (core/cache.py).
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# With Redis unreachable the cache counts nothing: limit no one rather than everyone (core/cache.py).
RATELIMIT_FAIL_OPEN = True
CACHES["default"]["KEY_PREFIX"] = env("CACHE_KEY_PREFIX")
# Behind a reverse proxy, name the header that carries the client address (e.g. HTTP_X_REAL_IP), or every
# request looks as if it came from the proxy; django-axes reads the same setting below.
RATELIMIT_IP_META_KEY = env("CLIENT_IP_HEADER") or None
AXES_IPWARE_META_PRECEDENCE_ORDER = [RATELIMIT_IP_META_KEY or "REMOTE_ADDR"]
SILENCED_SYSTEM_CHECKS = []
if not REDIS_URL:
    # Process-local cache in development: limits hold per process, which is enough for one runserver.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

# One-time login codes for enterprise contacts.
SMS_BACKEND = env("SMS_BACKEND", "jianchama.core.sms.ConsoleBackend")
LOGIN_CODE_TTL_SECONDS = 300
LOGIN_CODE_MAX_ATTEMPTS = 5

# Inspection codes (F-22): the signed token in the QR and the keys that sign it. The private key comes
# from CODE_SIGNING_KEY (a PEM text, or CODE_SIGNING_KEY_FILE) or from the key directory, never the database.
CODE_BASE_URL = env("CODE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CODE_SIGNING_KEY_DIR = Path(env("CODE_SIGNING_KEY_DIR", str(BASE_DIR / "var" / "keys")))
CODE_SIGNING_KEY = env("CODE_SIGNING_KEY")
CODE_SIGNING_KEY_ID = env("CODE_SIGNING_KEY_ID")
CODE_TOKEN_TTL_SECONDS = int(env("CODE_TOKEN_TTL_SECONDS", "300"))  # each token shown is valid this long
CODE_REFRESH_SECONDS = int(env("CODE_REFRESH_SECONDS", "60"))  # the inspector's phone shows a new one
CODE_KEY_RETENTION_DAYS = int(env("CODE_KEY_RETENTION_DAYS", "30"))  # retired public keys stay published
SCAN_RATE_LIMIT = env("SCAN_RATE_LIMIT", "60/m")  # scans per client address
# The scan page's card (inspections/scan_card.py): what a code's page shows of its task, built when the task is
# told to the enterprise, kept in the cache for at most this long (0: never kept; a week by default, so that a
# card built at notification is there on the visit's day) and rebuilt as soon as the task, its inspectors or
# their certificates change.
SCAN_CARD_SECONDS = int(env("SCAN_CARD_SECONDS", str(7 * 24 * 3600)))
# The scan log in batches (inspections/scan_log.py): with Redis, the scans that change nothing are appended to a
# stream and written to the table by `manage.py flush_scan_log` every SCAN_LOG_FLUSH_SECONDS (and by the task
# worker's minute schedule); entries a dead flusher left are taken over after SCAN_LOG_CLAIM_SECONDS. "0", or no
# Redis: every scan is written at once.
SCAN_LOG_STREAM = env("SCAN_LOG_STREAM", "1" if REDIS_URL else "0") == "1"
SCAN_LOG_FLUSH_SECONDS = float(env("SCAN_LOG_FLUSH_SECONDS", "1"))
SCAN_LOG_CLAIM_SECONDS = int(env("SCAN_LOG_CLAIM_SECONDS", "30"))
# The field app (F-44): offline, the inspector's phone shows prefetched tokens, one per slot of
# FIELD_CODE_SLOT_SECONDS (each valid only its slot, never longer than CODE_TOKEN_TTL_SECONDS), at most
# FIELD_CODE_PREFETCH_COUNT of them and covering at most FIELD_CODE_PREFETCH_HOURS from the fetch (never past
# the visit's day). Visits of the next FIELD_VISIT_DAYS days are kept on the phone.
FIELD_CODE_SLOT_SECONDS = int(env("FIELD_CODE_SLOT_SECONDS", "300"))
FIELD_CODE_PREFETCH_COUNT = int(env("FIELD_CODE_PREFETCH_COUNT", "144"))
FIELD_CODE_PREFETCH_HOURS = float(env("FIELD_CODE_PREFETCH_HOURS", "12"))
FIELD_VISIT_DAYS = int(env("FIELD_VISIT_DAYS", "7"))
FIELD_SYNC_RATE_LIMIT = env("FIELD_SYNC_RATE_LIMIT", "120/m")  # acts a phone may send a minute
# 亮码即定位: a check-in farther than this from the enterprise's registered position is a finding, unless the
# phone's own accuracy was worse than FIELD_LOCATION_MAX_ACCURACY_METERS (then the position proves nothing).
FIELD_LOCATION_MAX_DISTANCE_METERS = int(env("FIELD_LOCATION_MAX_DISTANCE_METERS", "1000"))
FIELD_LOCATION_MAX_ACCURACY_METERS = int(env("FIELD_LOCATION_MAX_ACCURACY_METERS", "500"))
# "Scan again" (seed 000): after the result is recorded, the enterprise's code still leads the on-site person
# or the legal representative to the result and the evaluation for this many days. 30 by default: as long as a
# retired signing key stays published (CODE_KEY_RETENTION_DAYS), so a code shown at the visit verifies that
# whole time; long enough for a legal representative who was not there that day, short enough that an old
# code does not become a standing way into the result. The inspector's phone can show the code again then.
SCAN_AGAIN_DAYS = int(env("SCAN_AGAIN_DAYS", "30"))
# Backfill (inspections/backfill.py): an act done on site without network (check-in, result) may reach the
# platform this many working days after it happened, with its real time; later it is refused. Ten, as
# Guangdong allows after a system failure. A phone's clock may run ahead by the skew; an act arriving more
# than BACKFILL_LATE_MINUTES after it happened is marked 补录 to supervisors.
BACKFILL_WORKING_DAYS = int(env("BACKFILL_WORKING_DAYS", "10"))
BACKFILL_CLOCK_SKEW_SECONDS = int(env("BACKFILL_CLOCK_SKEW_SECONDS", "120"))
BACKFILL_LATE_MINUTES = int(env("BACKFILL_LATE_MINUTES", "10"))
# A body sees its evaluations only as releases, each at least this many ratings after the last (never below 5).
EVALUATION_RELEASE_MIN_RATINGS = int(env("EVALUATION_RELEASE_MIN_RATINGS", "5"))
# Lists count at most this many rows per request, then say "1000+ 条" (core.pages.CappedPaginator). Measured
# at 1M tasks: counting 1,001 of a district's tasks takes 32 ms by index lookups; 2,001 or more, and PostgreSQL
# hashes the whole enterprise registry first (130–375 ms, growing with the registry).
LIST_COUNT_CAP = max(int(env("LIST_COUNT_CAP", "1000")), 100)
# Exports (core/exports.py): up to EXPORT_SYNC_MAX_ROWS rows written in the request and sent; more, written by
# the task queue's worker into a file its requester downloads from a progress page until EXPORT_KEEP_HOURS
# after; more than EXPORT_MAX_ROWS (the hard ceiling; an Excel sheet holds 1,048,576 rows) refused with the
# reason, never cut short.
EXPORT_SYNC_MAX_ROWS = int(env("EXPORT_SYNC_MAX_ROWS", "10000"))
EXPORT_MAX_ROWS = min(int(env("EXPORT_MAX_ROWS", "1000000")), 1_048_575)
EXPORT_KEEP_HOURS = float(env("EXPORT_KEEP_HOURS", "24"))

# Audit checkpoints (docs/audit.md): the chain's head, signed with a key kept outside the database and
# appended hourly to a file the application only ever appends to (and, with "inbox", told to supervisors).
AUDIT_CHECKPOINT_KEY_FILE = Path(
    os.getenv("AUDIT_CHECKPOINT_KEY_FILE") or BASE_DIR / "var" / "audit" / "checkpoint-key.pem"
)
AUDIT_CHECKPOINT_FILE = Path(
    env("AUDIT_CHECKPOINT_FILE", str(BASE_DIR / "var" / "audit" / "checkpoints.jsonl"))
)
AUDIT_CHECKPOINT_BACKENDS = [
    b.strip() for b in env("AUDIT_CHECKPOINT_BACKENDS", "file").split(",") if b.strip()
]

# Append-only tables partitioned by month on PostgreSQL (core/partitions.py, docs/scaling.md): months kept
# ready ahead (daily job), and where `manage.py archive_audit` writes the months it moves out of the database.
PARTITION_MONTHS_AHEAD = int(env("PARTITION_MONTHS_AHEAD", "3"))
# The nightly rebuild of the statistics' facts runs its ranges on this many database connections at once
# (PostgreSQL; 1: one by one; statistics/build.py's rebuild_all).
STATISTICS_REBUILD_WORKERS = int(env("STATISTICS_REBUILD_WORKERS", "2"))
# PostgreSQL work_mem of the rebuild's statements: its quarters' sorts and its previous-visit days' aggregates.
STATISTICS_REBUILD_WORK_MEM = env("STATISTICS_REBUILD_WORK_MEM", "256MB")
# The heavy statistics figures of the standard views (city, district or body; year, quarter, month) are computed
# ahead
# every STATISTICS_SNAPSHOT_MINUTES by the job queue; one older than STATISTICS_SNAPSHOT_MAX_AGE_MINUTES is
# shown with its age while the job queue computes its view again (statistics/snapshots.py).
STATISTICS_SNAPSHOT_MINUTES = int(env("STATISTICS_SNAPSHOT_MINUTES", "10"))
STATISTICS_SNAPSHOT_MAX_AGE_MINUTES = int(env("STATISTICS_SNAPSHOT_MAX_AGE_MINUTES", "30"))
# Past this many visit facts (about 2 per inspection), a city's or district's statistics view that no standard
# snapshot serves (a filter, a custom or earlier period) is computed by the job queue, not in the request
# (statistics/snapshots.py's `defers`); below it, in the request.
STATISTICS_LIVE_MAX_VISIT_FACTS = int(env("STATISTICS_LIVE_MAX_VISIT_FACTS", "1000000"))  # -1: always
PARTITION_ARCHIVE_DIR = Path(env("PARTITION_ARCHIVE_DIR", str(BASE_DIR / "var" / "archive")))

# Notifications (F-23): channels to the enterprise, run on the task queue.
GOV_APP_WEBHOOK_URL = env("GOV_APP_WEBHOOK_URL")
GOV_APP_WEBHOOK_SECRET = env("GOV_APP_WEBHOOK_SECRET")
WEBHOOK_TIMEOUT_SECONDS = float(env("WEBHOOK_TIMEOUT_SECONDS", "10"))
WEBHOOK_MAX_ATTEMPTS = int(env("WEBHOOK_MAX_ATTEMPTS", "6"))
WEBHOOK_BACKOFF_SECONDS = int(env("WEBHOOK_BACKOFF_SECONDS", "30"))  # doubled after each failed attempt

# Supervision (F-30–F-33). The documents fix the three steps' 5/15/5 working days; these are the rest.
SUPERVISION_POOR_EVALUATION = int(env("SUPERVISION_POOR_EVALUATION", "2"))  # overall rating at or below
SUPERVISION_RECORD_WORKING_DAYS = int(env("SUPERVISION_RECORD_WORKING_DAYS", "5"))  # visit → result recorded
SUPERVISION_REMINDER_WORKING_DAYS = int(env("SUPERVISION_REMINDER_WORKING_DAYS", "2"))  # before a deadline
SUPERVISION_WORK_MEM = env("SUPERVISION_WORK_MEM", "256MB")  # PostgreSQL work_mem for the rules' run
# A full run flags the task rules' visits in one pass over the tasks (docs/supervision-rules.md); 0: each its own.
SUPERVISION_ONE_PASS = env("SUPERVISION_ONE_PASS", "1") not in ("0", "false", "False")
# A full run on PostgreSQL runs its rules on this many database connections at once (threads; 1: one by one).
SUPERVISION_RULE_WORKERS = int(env("SUPERVISION_RULE_WORKERS", "2"))
SAMPLING_RATIO = env("SAMPLING_RATIO", "0.1")  # share of bodies sampled each quarter; never below 10%
SAMPLING_PASS_SCORE = int(env("SAMPLING_PASS_SCORE", "60"))  # % of a score sheet's full marks
SAMPLING_PUBLIC_RATE_LIMIT = env("SAMPLING_PUBLIC_RATE_LIMIT", "60/m")

# Complaints (F-34): the documents give no figures; working days from assignment, then from handling.
COMPLAINT_HANDLE_WORKING_DAYS = int(env("COMPLAINT_HANDLE_WORKING_DAYS", "15"))
COMPLAINT_FEEDBACK_WORKING_DAYS = int(env("COMPLAINT_FEEDBACK_WORKING_DAYS", "5"))
COMPLAINT_REMINDER_WORKING_DAYS = int(env("COMPLAINT_REMINDER_WORKING_DAYS", "2"))
PORTAL_COMPLAINT_RATE_LIMIT = env("PORTAL_COMPLAINT_RATE_LIMIT", "10/h")  # portal complaints per address

# Integration API (F-29, jianchama/integrations): calls per client (django-ratelimit's rate), how long a rotated
# key keeps working beside its successor, how long an Idempotency-Key's first answer is replayed, and whether
# a webhook may use plain http (development and tests; https in production).
API_RATE_LIMIT = env("API_RATE_LIMIT", "600/m")
API_KEY_GRACE_HOURS = int(env("API_KEY_GRACE_HOURS", "24"))
API_IDEMPOTENCY_HOURS = int(env("API_IDEMPOTENCY_HOURS", "24"))
API_WEBHOOK_ALLOW_HTTP = env("API_WEBHOOK_ALLOW_HTTP", "0") == "1"
API_WEBHOOK_DISABLE_AFTER = int(env("API_WEBHOOK_DISABLE_AFTER", "5"))  # deliveries failed in a row

# The task queue (django-q2), with its ORM broker by default: `manage.py qcluster` runs the worker.
Q_CLUSTER = {
    "name": "jianchama",
    "orm": "default",
    "workers": int(env("Q_WORKERS", "2")),
    # A job still running after `timeout` s is stopped; a job whose worker died (never acknowledged) is
    # delivered again after `retry` s, which must be longer (else a long job is delivered a second time while
    # it runs). The longest: the statistics' nightly rebuild, about 9 minutes at 10 M inspections (538 s on
    # 2 cores), and the snapshots, about 2 minutes.
    "timeout": int(env("Q_TIMEOUT_SECONDS", "1800")),
    "retry": int(env("Q_RETRY_SECONDS", "1900")),
    "max_attempts": 1,  # jobs retry themselves with back-off where that makes sense
    "catch_up": False,
    "label": "任务队列",
}
if REDIS_URL and env("Q_BROKER") == "redis":
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = REDIS_URL

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "src" / "jianchama" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "src" / "jianchama" / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"  # never routed: files are served by views that check scope (core/files.py)
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Who sends a stored file once its view has checked the user's scope: "simple" (Django reads it; development
# and tests) or "nginx" (X-Accel-Redirect to the internal location SENDFILE_URL; see README, Production).
# A dotted path names any other django-sendfile2 backend.
SENDFILE_BACKEND = env("SENDFILE_BACKEND", "simple")
if "." not in SENDFILE_BACKEND:
    SENDFILE_BACKEND = f"django_sendfile.backends.{SENDFILE_BACKEND}"
SENDFILE_ROOT = MEDIA_ROOT
SENDFILE_URL = env("SENDFILE_URL", "/protected-media")
# How long the photo links on a scan page work (seconds).
SCAN_PHOTO_URL_SECONDS = int(env("SCAN_PHOTO_URL_SECONDS", "3600"))

# Largest upload accepted for imports (bytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
IMPORT_MAX_BYTES = int(env("IMPORT_MAX_BYTES", str(50 * 1024 * 1024)))
# What one import may hold, checked before parsing (issue 10, item 5): an .xlsx's size once inflated and its
# compression ratio (a 1.9 MB file held 482 MB of XML), the data rows, and the problems kept for the report.
IMPORT_MAX_UNCOMPRESSED_BYTES = int(env("IMPORT_MAX_UNCOMPRESSED_BYTES", str(200 * 1024 * 1024)))
IMPORT_MAX_COMPRESSION_RATIO = int(env("IMPORT_MAX_COMPRESSION_RATIO", "100"))
IMPORT_MAX_ROWS = int(env("IMPORT_MAX_ROWS", "200000"))
IMPORT_MAX_PROBLEMS = int(env("IMPORT_MAX_PROBLEMS", "10000"))
# Files of more data rows than this are imported by the task queue, with a progress page; the upload waits
# for the worker in IMPORT_QUEUE_DIR (private: no URL serves it) and is deleted after the job.
IMPORT_QUEUE_ROWS = int(env("IMPORT_QUEUE_ROWS", "5000"))
IMPORT_QUEUE_DIR = Path(env("IMPORT_QUEUE_DIR", str(BASE_DIR / "var" / "imports")))
# Work orders of one 12345 hotline export (complaints/hotline.py): imported while the page waits, one
# registration a row; a larger export is imported in parts.
HOTLINE_IMPORT_MAX_ROWS = int(env("HOTLINE_IMPORT_MAX_ROWS", "5000"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# Staff sessions end after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after the login,
# whatever happens meanwhile (a working day): core/middleware.py, with a Chinese message on the login page.
SESSION_IDLE_MINUTES = int(env("SESSION_IDLE_MINUTES", "30"))
SESSION_MAX_HOURS = float(env("SESSION_MAX_HOURS", "10"))

# HTTPS in production (DEBUG=0): redirect plain HTTP and send HSTS. Behind a proxy that redirects already
# and speaks plain HTTP to us, set SECURE_SSL_REDIRECT=0 or name the proxy's header in
# SECURE_PROXY_SSL_HEADER ("HTTP_X_FORWARDED_PROTO,https"), or every request would be redirected forever.
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT", "0" if DEBUG else "1") == "1"
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env("SECURE_HSTS_INCLUDE_SUBDOMAINS", "0") == "1"
_proxy_ssl_header = env("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header.split(",", 1)) if "," in _proxy_ssl_header else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's check, which may come over plain HTTP
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp), in development too so that a violation shows early: nothing inline
# runs or styles without the request's nonce (templates: nonce="{{ request.csp_nonce }}"), no style
# attributes (site.css has classes instead), no other origin. data: images are the inspector's QR code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # WeasyPrint logs every layout step of every supervision letter at INFO; only its warnings matter.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}
