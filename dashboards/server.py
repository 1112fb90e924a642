"""`ioc web`: serves the app with gunicorn (threaded worker), the same way as production."""

from __future__ import annotations

import logging
import os
import sys

from ioc.config import Settings, settings_env

log = logging.getLogger("dashboards")


def gunicorn_argv(host: str, port: int, workers: int = 1, threads: int = 32,
                  access_log: bool = False) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{host}:{port}",
        "--worker-class", "gthread",
        "--workers", str(workers),
        "--threads", str(threads),
        "--timeout", "60",
        "--graceful-timeout", "10",
        "--access-logfile", "-" if access_log else "/dev/null",
        "--error-logfile", "-",
        "--log-level", "warning",
        "dashboards.wsgi:application",
    ]


def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    from dashboards.wsgi import check_signing_key

    check_signing_key(settings)  # before gunicorn: one line, not a worker boot failure
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    env = {**os.environ, **settings_env(settings), "IOC_WEB_HOST": host, "IOC_WEB_PORT": str(port)}
    log.info("web serving on http://%s:%d/", host, port)
    argv = gunicorn_argv(host, port, access_log=settings.web.access_log)
    os.execve(argv[0], argv, env)
    return 0  # not reached
