"""ioc: the core every other package uses (config, database, MQTT, Redis, domain, CLI)."""

__version__ = "0.1.0"
