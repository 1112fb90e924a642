"""Commands find the running demo's services through IOC_STATE_DIR; a new scenario starts
clean."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from ioc import running
from ioc.config import ConfigError, load_settings
from ioc.demo import _start_clean


def _settings(tmp_path, **env):
    return load_settings({"IOC_STATE_DIR": str(tmp_path), **env})


def test_an_unset_url_is_the_running_demos(tmp_path):
    demo = _settings(tmp_path, IOC_DATABASE_URL="postgresql://ioc:pw@127.0.0.1:5999/ioc",
                     IOC_MQTT_URL="mqtt://127.0.0.1:1999", IOC_REDIS_URL="redis://127.0.0.1:6999")
    path = running.record(demo)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the URLs carry passwords
    found = running.with_running_services(_settings(tmp_path))
    assert found.database.url == "postgresql://ioc:pw@127.0.0.1:5999/ioc"
    assert (found.mqtt.url, found.redis.url) == ("mqtt://127.0.0.1:1999", "redis://127.0.0.1:6999")
    # a URL given in the environment wins
    mine = running.with_running_services(
        _settings(tmp_path, IOC_DATABASE_URL="postgresql://x@db/other"))
    assert mine.database.url == "postgresql://x@db/other" and mine.redis.url.endswith("6999")
    running.forget(tmp_path)
    assert running.with_running_services(_settings(tmp_path)).database.url is None


def test_a_demo_that_is_gone_is_ignored(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    running.record(_settings(tmp_path, IOC_DATABASE_URL="postgresql://a@b/c"),
                   pid=int(gone.stdout))
    assert running.read(tmp_path) is None
    assert running.with_running_services(_settings(tmp_path)).database.url is None
    (tmp_path / running.FILE).write_text("not json")
    assert running.read(tmp_path) is None


def test_a_new_scenario_or_fresh_starts_from_empty_servers(tmp_path):
    settings = _settings(tmp_path)
    (tmp_path / "postgres").mkdir()
    (tmp_path / "web-secret-key").write_text("k")
    _start_clean(settings, "normal", fresh=False)  # first run: nothing removed
    assert (tmp_path / "postgres").exists()
    _start_clean(settings, "normal", fresh=False)  # same scenario: kept
    assert (tmp_path / "postgres").exists()
    _start_clean(settings, "flood", fresh=False)  # another scenario: clean
    assert not (tmp_path / "postgres").exists() and (tmp_path / "web-secret-key").exists()
    (tmp_path / "redis").mkdir()
    _start_clean(settings, "flood", fresh=True)
    assert not (tmp_path / "redis").exists()
    # never under a demo that is running
    running.record(_settings(tmp_path, IOC_DATABASE_URL="postgresql://a@b/c"), pid=os.getpid())
    with pytest.raises(ConfigError, match="a demo is running"):
        _start_clean(settings, "flood", fresh=True)
