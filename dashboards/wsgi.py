"""WSGI entry point for production servers: `gunicorn dashboards.wsgi:application`.

The application is built when the server first asks for it, not at import time, so a wrong
setting stops the server with one line naming it instead of an import traceback.
"""

from __future__ import annotations

import sys

_application = None


def create_application():
    """The Flask server of the Dash app, with settings from the environment (and config file)."""
    from dashboards.app import create_app
    from ioc.config import ConfigError, load_settings
    from ioc.logs import setup_logging

    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"ioc: configuration error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    check_signing_key(settings)
    setup_logging(settings, "web")
    return create_app(settings).server


def check_signing_key(settings) -> None:
    """Production signs every evidence bundle: no usable key, no web app (one line)."""
    from evidence.export import signing_key
    from evidence.signing import SigningKeyError

    try:
        key = signing_key(settings)
    except SigningKeyError as err:
        print(f"ioc: evidence signing key: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    if key is None and settings.env == "production":
        print("ioc: production needs IOC_EVIDENCE_SIGNING_KEY_FILE (evidence bundles must be "
              "signed; make a key with `ioc evidence keygen FILE`)", file=sys.stderr)
        raise SystemExit(2)


def __getattr__(name: str):
    global _application
    if name == "application":
        if _application is None:
            _application = create_application()
        return _application
    raise AttributeError(name)
