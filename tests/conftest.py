import os
import shutil
import time
import types

import pytest

from jianchama.core import sms


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.SMS_BACKEND = "jianchama.core.sms.LocmemBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    sms.outbox.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files go to the test's own directory, never the developer's var/media. Files are sent from
    SENDFILE_ROOT, which is MEDIA_ROOT in every deployment; here it is the test's directory, so that a
    test which points MEDIA_ROOT at `tmp_path` itself (as many do) is still served."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SENDFILE_ROOT = tmp_path


@pytest.fixture
def debug_urls(settings):
    """The URL configuration as a development server (DEBUG=1, the default) builds it."""
    import importlib

    from django.urls import clear_url_caches

    import jianchama.urls

    settings.DEBUG = True
    importlib.reload(jianchama.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(jianchama.urls)
    clear_url_caches()


@pytest.fixture(autouse=True)
def _ratelimit_clock(monkeypatch):
    """Pin django-ratelimit's clock for the test.

    It counts in fixed windows of wall-clock time, so a test that makes N requests and expects the next one
    refused would fail whenever a window happened to end between them (seen in CI). The limits themselves
    are what the tests check, not where the windows fall.
    """
    import django_ratelimit.core

    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: now))


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_cache(settings, _clear_cache):
    """The cache in the real Redis (127.0.0.1:6379, database 12, keys under a prefix of the test's own), as
    production has it, with the scan log's stream on. The keys are deleted by prefix afterwards, never with
    `cache.clear()` (FLUSHDB would empty the database for everyone on it), and the cache is back in process
    memory before `_clear_cache` clears it."""
    import uuid

    import redis
    from django.core.cache import caches

    prefix = f"jc-test-{uuid.uuid4().hex}"
    url = "redis://127.0.0.1:6379/12"
    original = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "jianchama.core.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.SCAN_LOG_STREAM = True
    yield caches["default"]
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    settings.CACHES = original


@pytest.fixture(scope="session")
def _signing_key_dir(tmp_path_factory):
    """One inspection code signing key for the whole run (key generation is cheap, but not free)."""
    from jianchama.inspections.signing import rotate_key

    directory = tmp_path_factory.mktemp("signing-keys")
    rotate_key(directory)
    return directory


@pytest.fixture(autouse=True)
def _signing_key(settings, _signing_key_dir):
    # Every test signs with a key in a temp dir, never the developer's var/keys or an environment key;
    # tests that rotate keys point CODE_SIGNING_KEY_DIR at a directory of their own.
    from jianchama.inspections.signing import clear_key_cache

    settings.CODE_SIGNING_KEY_DIR = _signing_key_dir
    settings.CODE_SIGNING_KEY = ""
    settings.CODE_SIGNING_KEY_ID = ""
    clear_key_cache()
    yield
    clear_key_cache()


@pytest.fixture(scope="session")
def _audit_checkpoint_key(tmp_path_factory):
    """One audit checkpoint key for the whole run, in a temp dir, never the developer's var/audit."""
    return tmp_path_factory.mktemp("audit-key") / "checkpoint-key.pem"


@pytest.fixture(autouse=True)
def _audit_checkpoints(settings, _audit_checkpoint_key, tmp_path_factory):
    # Each test appends to a checkpoint file of its own, so no checkpoint of another test's chain is read.
    settings.AUDIT_CHECKPOINT_KEY_FILE = _audit_checkpoint_key
    settings.AUDIT_CHECKPOINT_FILE = tmp_path_factory.mktemp("audit") / "checkpoints.jsonl"
    settings.AUDIT_CHECKPOINT_BACKENDS = ["file"]


@pytest.fixture(autouse=True)
def _import_queue_dir(settings, tmp_path_factory):
    # Uploads waiting for the task queue go to a temp dir, never the developer's var/imports.
    settings.IMPORT_QUEUE_DIR = tmp_path_factory.mktemp("imports")


# --- A real headless Chromium (Debian's, driven by Playwright) against the live test server -------------
# Defined once here: a second definition of the session fixture would start a second Playwright in the same
# process, which Playwright's sync API refuses.

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Chromium enforces the Content-Security-Policy and reports each refusal on the console ("Refused to execute
# inline script because it violates the following Content Security Policy directive ..."): every context the
# tests open listens, and a test whose pages raised one fails (csp_violations below).
CSP_VIOLATIONS: list[str] = []


class _CspWatchingBrowser:
    """The browser, with every new context listening for CSP violations on all its pages."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        context.on("console", _note_csp_violation)
        return context

    def new_page(self, **kwargs):
        page = self._browser.new_page(**kwargs)
        page.on("console", _note_csp_violation)
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


def _note_csp_violation(message) -> None:
    if "Content Security Policy" in message.text:
        CSP_VIOLATIONS.append(f"{message.page.url if message.page else ''}: {message.text}")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is not installed: run `make system-deps` (make test does it)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield _CspWatchingBrowser(instance)
        instance.close()


@pytest.fixture(autouse=True)
def csp_violations(request):
    """In a test that drives the browser, no page may raise a Content-Security-Policy violation."""
    if "browser" not in request.fixturenames and "phone" not in request.fixturenames:
        yield CSP_VIOLATIONS
        return
    CSP_VIOLATIONS.clear()
    yield CSP_VIOLATIONS
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


@pytest.fixture
def phone(browser):
    """A page the size of a phone screen, with a phone's user agent."""
    context = browser.new_context(
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    )
    page = context.new_page()
    yield page
    context.close()
