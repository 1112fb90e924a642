"""Shared test set-up: real-service fixtures, a combined settings fixture, browser options."""

from __future__ import annotations

import pytest

from ioc.config import Settings

pytest_plugins = [
    "tests.fixtures.fix_db",
    "tests.fixtures.fix_mqtt",
    "tests.fixtures.fix_redis",
    "tests.fixtures.fix_web",
]


@pytest.fixture
def settings(db_settings, mqtt_settings, redis_settings, tmp_path) -> Settings:
    """Settings wired to the test's own schema, topic prefix and key prefix."""
    return Settings(
        env="test",
        state_dir=tmp_path / "state",
        database=db_settings,
        mqtt=mqtt_settings,
        redis=redis_settings,
    )


# -- browser tests (dash[testing] + Debian's Chromium) ---------------------------------------------
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-first-run",
    "--no-default-browser-check", "--mute-audio", "--window-size=1920,1080",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def pytest_setup_options():
    """Base options dash[testing] gives Chromium: Debian's binary, offline, headless."""
    import tempfile

    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='ioc-chromium-')}")
    return options


def pytest_collection_modifyitems(config, items):
    import os
    import shutil

    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if os.environ.get("IOC_TEST_REQUIRE_BROWSER") and any("browser" in i.keywords for i in items):
        # CI sets this: there, a missing browser must fail the run, not skip the UI tests.
        raise pytest.UsageError("IOC_TEST_REQUIRE_BROWSER is set but chromium/chromedriver "
                                "are missing (apt-get install chromium chromium-driver)")
    skip = pytest.mark.skip(reason="Chromium/chromedriver not installed (apt-get install chromium chromium-driver)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_web_context():
    """Close the web app's pool after each test, before the test's schema is dropped."""
    yield
    import sys

    module = sys.modules.get("dashboards.context")
    if module is not None and module._context is not None:
        module._context.close()
        module._context = None
