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
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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
