"""Demo only: one user per role with a generated password, shown in the banner and on the
log-in page (labelled "demo"). Production has no default users at all."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ioc.config.models import SecuritySettings
from ioc.security import users
from ioc.security.passwords import generate_password
from ioc.security.roles import ROLES

FILE_NAME = "demo-users.json"


@dataclass(frozen=True)
class DemoCredential:
    username: str
    role: str
    password: str


def credentials_path(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


def read_credentials(state_dir: Path) -> list[DemoCredential]:
    """The demo credentials kept in the state directory (empty when there are none)."""
    try:
        data = json.loads(credentials_path(state_dir).read_text(encoding="utf-8"))
        return [DemoCredential(**item) for item in data]
    except (OSError, ValueError, TypeError):
        return []


def _write(state_dir: Path, creds: list[DemoCredential]) -> None:
    path = credentials_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump([asdict(c) for c in creds], fh, indent=1)
    tmp.replace(path)


def ensure_demo_users(conn, state_dir: Path, settings: SecuritySettings) -> list[DemoCredential]:
    """Make sure each role has its demo user with the password kept in the state directory.

    Idempotent: a second demo start keeps the same passwords. The caller commits.
    """
    known = {c.username: c for c in read_credentials(state_dir)}
    creds = []
    for role in ROLES:
        cred = known.get(role) or DemoCredential(role, role, generate_password(14))
        user = users.get_user(conn, cred.username)
        if user is None:
            users.add_user(
                conn, cred.username, cred.password, role,
                actor="demo", settings=settings, display_name=f"Demo {role}",
            )
        elif cred.username not in known:
            # a demo user from an earlier state directory: give it the new password
            users.set_password(
                conn, cred.username, cred.password, actor="demo", settings=settings
            )
        creds.append(cred)
    _write(state_dir, creds)
    return creds
