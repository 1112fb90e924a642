"""Settings: validated models, filled from a TOML file and IOC_* environment variables."""

from ioc.config.loader import ConfigError, load_settings, settings_env
from ioc.config.models import (
    AlertsSettings,
    DatabaseSettings,
    IngestSettings,
    MqttSettings,
    RedisSettings,
    Settings,
    SimSettings,
    WebSettings,
)

__all__ = [
    "AlertsSettings",
    "ConfigError",
    "DatabaseSettings",
    "IngestSettings",
    "MqttSettings",
    "RedisSettings",
    "Settings",
    "SimSettings",
    "WebSettings",
    "load_settings",
    "settings_env",
]
