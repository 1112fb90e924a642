"""Who may see faces and licence plates, and what everyone else sees instead (pure).

Decree 13/2023/ND-CP treats a person's image as personal data: only the roles whose work
needs it (police, and the administrators who answer for the system) see unblurred snapshots
and whole plates. Masking happens on the server, before any text leaves it.
"""

from __future__ import annotations

import re

from ioc.security.roles import ADMIN, POLICE

SENSITIVE_ROLES: frozenset[str] = frozenset({POLICE, ADMIN})

_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
_ALNUM = re.compile(r"[0-9A-Za-z]")
MASK = "*"


def may_see_sensitive(role: str | None) -> bool:
    """Whether `role` sees unblurred snapshots and whole plates."""
    return role in SENSITIVE_ROLES


def plate_key(plate: str | None) -> str | None:
    """The plate as compared across cameras: upper-case letters and digits only.

    '24A-686.68', '24a 686 68' and '24A68668' are one vehicle. Same expression as the
    index `camera_incidents_plate_key` (0006_police.sql).
    """
    if not plate:
        return None
    key = _NOT_ALNUM.sub("", plate).upper()
    return key or None


def mask_plate(plate: str | None) -> str | None:
    """'24A-686.68' -> '24A-6**.**': the province code and series stay (they say where a
    vehicle is registered, not whose it is), with the first digit of the number; every other
    letter or digit becomes '*'. A plate without a dash keeps its first four characters."""
    if plate is None:
        return None
    dash = plate.find("-")
    if dash > 0:
        # ...and the first letter or digit after the dash
        match = _ALNUM.search(plate, dash + 1)
        keep = match.end() if match else len(plate)
    else:
        positions = [m.start() for m in _ALNUM.finditer(plate)]
        shown = min(4, len(positions) - 1)  # a short plate still hides at least one character
        keep = positions[shown - 1] + 1 if shown > 0 else 0
    return plate[:keep] + _ALNUM.sub(MASK, plate[keep:])


def plate_for(role: str | None, plate: str | None) -> str | None:
    """The plate as `role` may see it."""
    return plate if may_see_sensitive(role) else mask_plate(plate)
