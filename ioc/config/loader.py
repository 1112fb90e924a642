"""Builds Settings from an optional TOML file and IOC_* environment variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ioc.config.models import Settings

ENV_PREFIX = "IOC_"
CONFIG_FILE_VAR = "IOC_CONFIG_FILE"
# Variables that belong to the tooling rather than to a process's settings.
IGNORED_VARS = {CONFIG_FILE_VAR, "IOC_PROCESS_NAME"}
IGNORED_PREFIXES = ("IOC_TEST_", "IOC_BENCH_", "IOC_DEMO_")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is wrong."""


def _sections() -> dict[str, type[BaseModel]]:
    return {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


def _field_key(model: type[BaseModel], env_suffix: str) -> str | None:
    """The input key of `model` that an upper-case env suffix names, if any."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if env_suffix in (name.upper(), key.upper()):
            return key
    return None


def env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[tuple, str]]:
    """Nested settings from IOC_* variables, and where each came from."""
    data: dict[str, Any] = {}
    origin: dict[tuple, str] = {}
    sections = _sections()
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in IGNORED_VARS:
            continue
        if var.startswith(IGNORED_PREFIXES):
            continue
        rest = var[len(ENV_PREFIX) :]
        top = _field_key(Settings, rest)
        if top is not None and top not in sections:
            data[top] = value
            origin[(top,)] = var
            continue
        for section, model in sections.items():
            head = section.upper() + "_"
            if rest.startswith(head):
                key = _field_key(model, rest[len(head) :])
                if key is None:
                    known = ", ".join(
                        f"{ENV_PREFIX}{head}{(f.alias or n).upper()}"
                        for n, f in model.model_fields.items()
                    )
                    raise ConfigError(f"{var}: unknown setting (known in this section: {known})")
                data.setdefault(section, {})[key] = value
                origin[(section, key)] = var
                break
        else:
            raise ConfigError(f"{var}: unknown setting")
    return data, origin


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as err:
        raise ConfigError(f"{CONFIG_FILE_VAR}: file {path} does not exist") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: not valid TOML ({err})") from err


def _describe(err: ValidationError, origin: dict[tuple, str], file: Path | None) -> str:
    first = err.errors()[0]
    loc = tuple(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown setting"
    where = origin.get(loc)
    if where is None:
        dotted = ".".join(loc) if loc else "settings"
        where = f"{dotted} (config file {file})" if file else dotted
    more = f" (and {err.error_count() - 1} more problem(s))" if err.error_count() > 1 else ""
    return f"{where}: {msg}{more}"


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Settings from defaults < config file < environment < explicit overrides."""
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get(CONFIG_FILE_VAR):
        config_file = Path(environ[CONFIG_FILE_VAR])
    data: dict[str, Any] = _read_file(config_file) if config_file else {}
    env_data, origin = env_overrides(environ)
    data = _merge(data, env_data)
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, origin, config_file)) from None


def settings_env(settings: Settings) -> dict[str, str]:
    """The IOC_* variables that reproduce the service URLs and state of `settings` in a child."""
    env = {
        "IOC_ENV": settings.env,
        "IOC_STATE_DIR": str(settings.state_dir),
        "IOC_DATABASE_SCHEMA": settings.database.schema_name,
        "IOC_MQTT_TOPIC_PREFIX": settings.mqtt.topic_prefix,
        "IOC_MQTT_SHARED_GROUP": settings.mqtt.shared_group,
        "IOC_MQTT_CLIENT_ID_PREFIX": settings.mqtt.client_id_prefix,
        "IOC_MQTT_SESSION_EXPIRY_S": str(settings.mqtt.session_expiry_s),
        "IOC_REDIS_KEY_PREFIX": settings.redis.key_prefix,
        "IOC_LOG_LEVEL": settings.log_level,
        "IOC_LOG_FORMAT": settings.log_format,
    }
    for var, value in (
        ("IOC_DATABASE_URL", settings.database.url),
        ("IOC_MQTT_URL", settings.mqtt.url),
        ("IOC_REDIS_URL", settings.redis.url),
        ("IOC_WEB_SECRET_KEY", settings.web.secret_key),
    ):
        if value:
            env[var] = value
    if settings.evidence.signing_key_file is not None:
        env["IOC_EVIDENCE_SIGNING_KEY_FILE"] = str(settings.evidence.signing_key_file)
    return env
