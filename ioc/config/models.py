"""Validated settings models, one per section; unknown keys are rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ioc.timezones import TimeZoneName


class Section(BaseModel):
    """Base for every settings section: frozen, strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str | None, schemes: tuple[str, ...], example: str) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"expected a URL like {example}, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as err:
        raise ValueError(f"bad port in {value!r}") from err
    return value


class DatabaseSettings(Section):
    url: str | None = Field(
        None,
        description="PostgreSQL/TimescaleDB URL, postgresql://user:pass@host:port/db. "
        "Unset: `ioc demo` starts an embedded PostgreSQL under the state directory.",
    )
    owner_url: str | None = Field(
        None,
        description="URL of the role that owns the schema, used only by `ioc db migrate` "
        "(and `ioc demo`). The processes connect with `url`, as a runtime role that owns "
        "nothing (docs/security.md). Unset: migrate connects with `url`.",
    )
    schema_name: str = Field(
        "public", alias="schema", description="Schema holding the IOC tables (tests use their own)."
    )
    pool_min: int = Field(1, ge=1, le=100, description="Smallest connection pool size.")
    pool_max: int = Field(8, ge=1, le=200, description="Largest connection pool size.")
    pool_timeout_s: float = Field(
        30.0, gt=0, le=600,
        description="How long a request waits for a pooled connection before it fails "
        "with 'database unavailable'.",
    )
    retention_days: int = Field(
        400, ge=1, description="Raw readings older than this are dropped (rollups are kept)."
    )
    compress_after_days: int = Field(
        7, ge=1, description="TimescaleDB only: compress readings chunks older than this."
    )
    # Retention of every other growing table (`ioc maintain` deletes what is older, hourly;
    # docs/operations.md lists them). Days.
    rollup_hour_retention_days: int = Field(
        1830, ge=1, description="Hourly rollups older than this are deleted (daily ones stay).")
    rollup_day_retention_days: int = Field(
        3660, ge=1, description="Daily rollups older than this are deleted.")
    audit_retention_days: int = Field(
        1826, ge=365, description="Audit log rows older than this are deleted (default 5 years; "
        "set what the province's law on record keeping names; never under a year; takes effect "
        "at the next `ioc db migrate`).")
    police_retention_days: int = Field(
        1826, ge=365, description="Police records (reviews, notes, custody, export records) "
        "older than this are deleted (default 5 years; never under a year; takes effect at the "
        "next `ioc db migrate`).")
    incident_retention_days: int = Field(
        1826, ge=30, description="Camera incidents (and their snapshots) last updated before "
        "this are deleted, except those a police record or an evidence export still refers to.")
    alert_retention_days: int = Field(
        1826, ge=30, description="Closed alerts resolved before this are deleted with their events.")
    delivery_retention_days: int = Field(
        30, ge=1, description="Settled MQTT/webhook deliveries of alert changes are kept this long.")
    dead_letter_retention_days: int = Field(
        90, ge=1, description="Rejected ingest messages (dead_letters) are kept this long.")
    hazard_history_retention_days: int = Field(
        1826, ge=30, description="Unit hazard-level history is kept this long.")
    login_attempt_retention_days: int = Field(
        90, ge=1, description="Log-in attempts are kept this long.")
    device_status_retention_days: int = Field(
        400, ge=1, description="Device online/offline history is kept this long.")
    cap_retention_days: int = Field(
        1826, ge=30, description="CAP warning messages received are kept this long.")
    frigate_review_retention_days: int = Field(
        400, ge=1, description="Frigate review items are kept this long.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url", "owner_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _check_url(v, ("postgresql", "postgres"), "postgresql://user:pass@host:5432/ioc")

    @field_validator("schema_name")
    @classmethod
    def _schema(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", v):
            raise ValueError("must be a lower-case SQL identifier (a-z, 0-9, _)")
        return v

    @model_validator(mode="after")
    def _pool(self) -> DatabaseSettings:
        if self.pool_min > self.pool_max:
            raise ValueError("pool_min must not exceed pool_max")
        return self


class MqttUrl(BaseModel):
    """The parts of an mqtt:// URL."""

    model_config = ConfigDict(frozen=True)
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


class MqttSettings(Section):
    url: str | None = Field(
        None,
        description="Broker URL, mqtt://user:pass@host:port (mqtts:// for TLS). "
        "Unset: `ioc demo` starts an embedded broker.",
    )
    topic_prefix: str = Field(
        "", description="Prepended to every topic (tests isolate themselves with it)."
    )
    frigate_prefix: str = Field("frigate", description="Topic prefix of Frigate NVR events.")
    client_id_prefix: str = Field("ioc", description="Client ids start with this.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive in seconds.")
    session_expiry_s: int = Field(
        86400, ge=0, description="Persistent-session expiry; queued QoS 1 messages live this long."
    )
    shared_group: str = Field(
        "ioc-ingest",
        description="Group of the `$share/` subscriptions earlier ingest versions used; a resumed "
        "session drops them at start.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _check_url(v, ("mqtt", "mqtts", "tcp"), "mqtt://user:pass@host:1883")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v and (not v.endswith("/") or any(c in v for c in "+#")):
            raise ValueError("must end with '/' and contain no wildcards, e.g. 'test42/'")
        return v

    def parsed_url(self) -> MqttUrl:
        if not self.url:
            raise ValueError("mqtt.url is not set")
        parts = urlsplit(self.url)
        tls = parts.scheme == "mqtts"
        return MqttUrl(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


class RedisSettings(Section):
    url: str | None = Field(
        None,
        description="Redis URL, redis://[:password@]host:port/db. "
        "Unset: `ioc demo` starts an embedded Redis.",
    )
    key_prefix: str = Field("ioc:", description="Prepended to every key and stream name.")
    stream_maxlen: int = Field(
        100_000, ge=1000, description="Approximate length cap of the live event stream."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _check_url(v, ("redis", "rediss", "unix"), "redis://:password@host:6379/0")


class WebSettings(Section):
    host: str = Field("127.0.0.1", description="Address the web server binds to.")
    port: int = Field(8050, ge=0, le=65535, description="Port of the web server (0: any free).")
    language: Literal["vi", "en"] = Field("vi", description="Default UI language.")
    timezone: TimeZoneName = Field("Asia/Ho_Chi_Minh", description="Time zone for display.")
    secret_key: str | None = Field(
        None, description="Session signing key; required in production, generated in the demo."
    )
    refresh_ms: int = Field(2000, ge=250, le=60000, description="Live panel refresh interval.")
    access_log: bool = Field(False, description="Log every HTTP request of `ioc web` to stdout.")
    map_tile_url: str | None = Field(
        None,
        description="Raster tile URL template ({z}/{x}/{y}) drawn under the live map, for "
        "connected deployments; unset: no tiles, the map needs no internet.",
    )

    map_tiles_file: Path | None = Field(
        None,
        description="An offline base map of the province: one MBTiles or PMTiles (v3) file, "
        "raster (png/jpg/webp) or vector (pbf). ioc serves its tiles itself under /tiles/ "
        "(behind the log-in) and draws them under the live map; no internet needed. Wins "
        "over map_tile_url when both are set. Unset: the map is drawn without a base map.",
    )

    @field_validator("map_tiles_file")
    @classmethod
    def _tiles_file(cls, v: Path | str | None) -> Path | None:
        if v is None or str(v) == "":
            return None
        path = Path(v).expanduser()
        if not path.exists():
            raise ValueError(f"base map file {str(path)!r} does not exist")
        if not path.is_file():
            raise ValueError(f"base map file {str(path)!r} is not a file")
        try:
            with path.open("rb") as f:
                head = f.read(16)
        except OSError as err:
            raise ValueError(f"base map file {str(path)!r} cannot be read: "
                             f"{err.strerror or err}") from err
        if not (head.startswith(b"PMTiles") or head.startswith(b"SQLite format 3\x00")):
            raise ValueError(f"base map file {str(path)!r} is neither an MBTiles (SQLite) nor "
                             "a PMTiles file")
        return path

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        placeholders = all(p in v for p in ("{z}", "{x}", "{y}"))
        if not v.startswith(("https://", "http://")) or not placeholders:
            raise ValueError(f"expected an http(s) URL with {{z}}, {{x}} and {{y}}, got {v!r}")
        return v


class IngestSettings(Section):
    batch_size: int = Field(2000, ge=1, le=100_000, description="Flush a batch at this many rows.")
    flush_interval_ms: int = Field(200, ge=10, le=60_000, description="Flush at least this often.")
    max_pending: int = Field(
        50_000, ge=100, description="Messages held unacknowledged before the worker stops reading."
    )
    max_payload_bytes: int = Field(65536, ge=256, description="Larger payloads are dead-lettered.")
    dead_letter_payload_cap: int = Field(
        4096, ge=64, description="Bytes of a rejected payload kept in the dead-letter table."
    )
    max_future_s: int = Field(
        300, ge=0, description="Timestamps further than this in the future are rejected."
    )
    auto_register: bool = Field(
        False, description="Register unknown devices instead of dead-lettering (demo only)."
    )
    metrics_port: int = Field(9108, ge=0, le=65535, description="Prometheus metrics port (0: off).")


class AlertsSettings(Section):
    rules_file: Path | None = Field(None, description="Rules file (YAML); default: built-in.")
    evaluate_interval_ms: int = Field(
        1000, ge=100, description="How often time-based rules (silence, duration) are checked."
    )
    consumer_group: str = Field(
        "ioc-alerts",
        description="Redis consumer group of the alert workers; workers of one group split "
        "the live event stream between them.",
    )
    reload_s: int = Field(
        30, ge=1, le=3600, description="How often rules (file + alert_rules table) and the "
        "device registry are reloaded."
    )
    mqtt_out: bool = Field(True, description="Publish alert changes on ioc/v1/out/alerts/...")
    webhook_urls: tuple[str, ...] = Field(
        (), description="URLs that receive every change of a top-level alert as a JSON POST "
        "(comma-separated in IOC_ALERTS_WEBHOOK_URLS)."
    )
    webhook_secret: str | None = Field(
        None, description="When set, webhooks carry X-IOC-Signature: sha256=<HMAC of the body>."
    )
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of one POST.")
    webhook_max_attempts: int = Field(
        12, ge=1, le=50, description="Attempts per webhook delivery, 0.5 s apart doubling up to "
        "60 s (12: about six minutes); deliveries wait in the database meanwhile."
    )
    cap_sender: str = Field(
        "ioc@localhost", description="CAP <sender> of the alerts we publish (no spaces, commas, "
        "'<' or '&')."
    )
    cap_sender_name: str = Field(
        "Trung tâm Điều hành thông minh", description="CAP <senderName> of what we publish."
    )

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split_urls(cls, v):
        if isinstance(v, str):
            return tuple(u for u in re.split(r"[\s,]+", v) if u)
        return v

    @field_validator("webhook_urls")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            _check_url(url, ("http", "https"), "https://example.org/hook")
        return v

    @field_validator("cap_sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if not v or re.search(r"[\s,<&]", v):
            raise ValueError("must be non-empty without spaces, commas, '<' or '&'")
        return v

    @field_validator("consumer_group")
    @classmethod
    def _group(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", v):
            raise ValueError("letters, digits and _ . : - only")
        return v


class SimSettings(Section):
    scenario: str = Field("normal", description="Simulator scenario.")
    speed: float = Field(1.0, gt=0, le=10_000, description="Simulated seconds per real second.")
    seed: int | None = Field(None, description="Random seed for repeatable runs.")
    fleet_file: Path | None = Field(None, description="Device fleet file; default: demo province.")


class SecuritySettings(Section):
    session_idle_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60,
        description="A web session unused this long ends (an open page keeps it alive).",
    )
    session_absolute_hours: int = Field(
        12, ge=1, le=24 * 30, description="A web session ends this long after log-in, used or not."
    )
    cookie_secure: bool | None = Field(
        None,
        description="Send cookies over HTTPS only; unset: on in production, off otherwise "
        "(the demo runs on plain http://127.0.0.1).",
    )
    login_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Window in which failed log-ins are counted."
    )
    login_max_failures_per_user: int = Field(
        5, ge=1, le=1000, description="Failed log-ins per username in the window before refusal."
    )
    login_max_failures_per_ip: int = Field(
        30, ge=1, le=100_000, description="Failed log-ins per client address in the window."
    )
    password_min_length: int = Field(
        10, ge=8, le=128, description="Shortest password accepted for a new or changed password."
    )
    token_max_days: int = Field(
        365, ge=1, le=3650, description="Longest lifetime of an API token."
    )
    trusted_proxies: int = Field(
        0, ge=0, le=5,
        description="Reverse proxies in front of the web app whose X-Forwarded-For is trusted "
        "(client address for rate limiting and the audit log).",
    )

    @model_validator(mode="after")
    def _sessions(self) -> SecuritySettings:
        if self.session_idle_minutes > self.session_absolute_hours * 60:
            raise ValueError("session_idle_minutes must not exceed session_absolute_hours")
        return self


class EvidenceSettings(Section):
    signing_key_file: Path | None = Field(
        None,
        description="PEM file of the deployment's Ed25519 private key, which signs exported "
        "evidence bundles and export records (on the web server only; `ioc evidence keygen "
        "FILE` makes one). Required when env is production; `ioc demo` makes one in the state "
        "directory. The public key is published at /evidence/public-key.pem (docs/police.md).",
    )


class DevicesSettings(Section):
    """Device MQTT credentials written by `ioc devices credentials` (docs/devices.md)."""

    mqtt_password_file: Path | None = Field(
        None, description="Mosquitto password file ioc writes device accounts to (hashed, "
        "PBKDF2-SHA512 `$7$`); other lines in it are kept. In the compose stack: the "
        "operator accounts file that make-passwd.sh merges, /mosquitto/accounts/passwd.")
    mqtt_broker_pid_file: Path | None = Field(
        None, description="File holding the broker's process id: ioc sends it SIGHUP after "
        "a change, so it re-reads the password file without a restart.")
    mqtt_reload_command: str | None = Field(
        None, description="Command that makes the broker re-read its password file, when "
        "it runs elsewhere (e.g. `docker compose exec -T mqtt sh "
        "/mosquitto/config/make-passwd.sh --reload`). Used instead of the pid file.")
    mqtt_hash_iterations: int = Field(
        101, ge=1, le=1_000_000, description="PBKDF2 iterations of new hashes (101 is "
        "mosquitto_passwd's default; more makes every connect slower for the broker).")


class PoliceSettings(Section):
    queue_rules_file: Path | None = Field(
        None, description="What enters the police queue (YAML); default: the built-in "
        "police/queue_rules.yaml.")
    frigate_url: str | None = Field(
        None, description="Frigate's HTTP API (http://host:5000): snapshots and clips of "
        "Frigate incidents are fetched from it and stored by their SHA-256. Unset: not fetched.")
    frigate_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Timeout of one request to Frigate's HTTP API.")

    @field_validator("frigate_url")
    @classmethod
    def _frigate_url(cls, v: str | None) -> str | None:
        return _check_url(v, ("http", "https"), "http://frigate:5000")


class Settings(Section):
    """All settings of one IOC process."""

    env: Literal["demo", "production", "test"] = Field(
        "demo", description="demo allows embedded services and demo users; production does not."
    )
    state_dir: Path = Field(
        Path(".ioc-state"), description="Where embedded servers keep their data and logs."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    database: DatabaseSettings = DatabaseSettings()
    mqtt: MqttSettings = MqttSettings()
    redis: RedisSettings = RedisSettings()
    web: WebSettings = WebSettings()
    ingest: IngestSettings = IngestSettings()
    alerts: AlertsSettings = AlertsSettings()
    sim: SimSettings = SimSettings()
    security: SecuritySettings = SecuritySettings()
    evidence: EvidenceSettings = EvidenceSettings()
    devices: DevicesSettings = DevicesSettings()
    police: PoliceSettings = PoliceSettings()

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, value in (
                    ("database.url", self.database.url),
                    ("mqtt.url", self.mqtt.url),
                    ("redis.url", self.redis.url),
                    ("web.secret_key", self.web.secret_key),
                )
                if not value
            ]
            if missing:
                raise ValueError("production needs " + ", ".join(missing) + " to be set")
            if self.ingest.auto_register:
                raise ValueError("ingest.auto_register is for the demo only, not production")
        return self
