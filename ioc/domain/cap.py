"""The CAP 1.2 XML Schema (OASIS) that incoming warnings and our own CAP feed are checked with."""

from __future__ import annotations

from pathlib import Path

# shipped as package data; docs/schemas/cap-1.2.xsd is the published copy (a test keeps them equal)
CAP_XSD = Path(__file__).with_name("cap-1.2.xsd")
