"""WSGI entry point for production servers: `gunicorn dashboards.wsgi:application`."""

from dashboards.app import create_app
from ioc.config import load_settings
from ioc.logs import setup_logging

_settings = load_settings()
setup_logging(_settings, "web")
application = create_app(_settings).server
