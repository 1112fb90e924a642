"""Settings: environment mapping, file precedence, and one-line errors naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.config import ConfigError, load_settings, settings_env


def test_defaults_need_no_configuration():
    s = load_settings({})
    assert s.database.url is None and s.mqtt.url is None and s.redis.url is None
    assert s.web.language == "vi" and s.web.timezone == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"IOC_MQTT_URL": "nonsense"}, "IOC_MQTT_URL: expected a URL like mqtt://"),
        ({"IOC_DATABASE_URL": "mysql://x"}, "IOC_DATABASE_URL: expected a URL like postgresql://"),
        ({"IOC_REDIS_URL": "redis://h:notaport"}, "IOC_REDIS_URL: bad port"),
        ({"IOC_DATABASE_POOL_MAX": "many"}, "IOC_DATABASE_POOL_MAX: Input should be a valid integer"),
        ({"IOC_WEB_TIMEZONE": "Mars/Olympus"}, "IOC_WEB_TIMEZONE: unknown time zone"),
        ({"IOC_WEB_LANGUAGE": "fr"}, "IOC_WEB_LANGUAGE: Input should be 'vi' or 'en'"),
        ({"IOC_MQTT_TOPIC_PREFIX": "a/#/"}, "IOC_MQTT_TOPIC_PREFIX: must end with '/'"),
        ({"IOC_MQTT_URLL": "mqtt://h"}, "IOC_MQTT_URLL: unknown setting"),
        ({"IOC_COLOUR": "red"}, "IOC_COLOUR: unknown setting"),
        ({"IOC_DATABASE_SCHEMA": "Robert'); DROP"}, "IOC_DATABASE_SCHEMA: must be a lower-case"),
    ],
)
def test_bad_values_name_the_variable(env, expected):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_cross_field_checks():
    with pytest.raises(ConfigError, match="pool_min must not exceed pool_max"):
        load_settings({"IOC_DATABASE_POOL_MIN": "9", "IOC_DATABASE_POOL_MAX": "2"})
    with pytest.raises(ConfigError, match="production needs database.url"):
        load_settings({"IOC_ENV": "production"})


def test_mqtt_url_parts():
    s = load_settings({"IOC_MQTT_URL": "mqtt://dev%40x:p%2Fw@broker.local:1884"})
    url = s.mqtt.parsed_url()
    assert (url.host, url.port, url.username, url.password) == ("broker.local", 1884, "dev@x", "p/w")
    assert load_settings({"IOC_MQTT_URL": "mqtts://h"}).mqtt.parsed_url().port == 8883


def test_file_then_environment(tmp_path: Path):
    conf = tmp_path / "ioc.toml"
    conf.write_text('[web]\nport = 9000\nlanguage = "en"\n[ingest]\nbatch_size = 10\n')
    s = load_settings({"IOC_WEB_PORT": "9100"}, config_file=conf)
    assert s.web.port == 9100  # environment wins
    assert s.web.language == "en" and s.ingest.batch_size == 10


def test_file_errors_name_the_file_and_key(tmp_path: Path):
    conf = tmp_path / "ioc.toml"
    conf.write_text("[web]\nport = 70000\n")
    with pytest.raises(ConfigError, match=r"web.port \(config file .*ioc.toml\)"):
        load_settings({}, config_file=conf)
    conf.write_text("[mqtt]\nhost = 'x'\n")
    with pytest.raises(ConfigError, match=r"mqtt.host .*unknown setting"):
        load_settings({}, config_file=conf)
    conf.write_text("[web\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, config_file=conf)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"IOC_CONFIG_FILE": str(tmp_path / "missing.toml")})


def test_settings_env_round_trips():
    env = {
        "IOC_DATABASE_URL": "postgresql://u:p@h:5/d",
        "IOC_MQTT_URL": "mqtt://h:1",
        "IOC_REDIS_URL": "redis://h:2/0",
        "IOC_DATABASE_SCHEMA": "s1",
        "IOC_MQTT_TOPIC_PREFIX": "x/",
        "IOC_EVIDENCE_SIGNING_KEY_FILE": "/run/ioc/evidence-key.pem",
    }
    s = load_settings(env)
    assert load_settings(settings_env(s)) == s
    assert settings_env(s)["IOC_EVIDENCE_SIGNING_KEY_FILE"] == "/run/ioc/evidence-key.pem"


def test_test_tooling_variables_are_ignored():
    load_settings({"IOC_TEST_DATABASE_URL": "whatever", "IOC_CONFIG_FILE": ""})


@pytest.mark.parametrize("argv", [["db", "migrate"], ["config", "show"]])
def test_cli_bad_config_is_one_line_and_nonzero(argv):
    env = {**os.environ, "IOC_MQTT_URL": "nonsense"}
    proc = subprocess.run(
        [sys.executable, "-m", "ioc", *argv], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "ioc: configuration error: IOC_MQTT_URL: expected a URL like "
        "mqtt://user:pass@host:1883, got 'nonsense'"
    ]


def test_cli_bad_argument_names_it():
    proc = subprocess.run(
        [sys.executable, "-m", "ioc", "demo", "--speed", "fast"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--speed: expected a number, got 'fast'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_one_time_zone_check_for_settings_catalogues_and_the_api():
    from ioc.timezones import check_timezone, is_timezone

    assert is_timezone("Asia/Ho_Chi_Minh") and is_timezone("UTC")
    assert not is_timezone("Mars/Olympus") and not is_timezone(None)
    assert check_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match="unknown time zone"):
        check_timezone("Mars/Olympus")
