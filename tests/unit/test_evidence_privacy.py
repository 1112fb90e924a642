"""Who sees faces and plates, and how plates are masked and matched (pure)."""

from __future__ import annotations

import pytest

from dashboards.access import ACT_ROLES, VIEW_ROLES
from evidence.privacy import (
    SENSITIVE_ROLES,
    mask_plate,
    may_see_sensitive,
    plate_for,
    plate_key,
)
from ioc.security.roles import ROLES


@pytest.mark.parametrize(
    ("plate", "masked"),
    [
        ("24A-686.68", "24A-6**.**"),
        ("29AB-123.45", "29AB-1**.**"),
        ("30K1-234.56", "30K1-2**.**"),
        ("24A68668", "24A6****"),
        ("AB1", "AB*"),
        ("24A-", "24A-"),
        ("", ""),
    ],
)
def test_mask_plate_keeps_province_and_series_only(plate, masked):
    assert mask_plate(plate) == masked


def test_masked_plate_never_contains_the_number():
    for plate in ("24A-686.68", "24A68668", "24a 686 68", "51F-999.99"):
        masked = mask_plate(plate)
        assert masked != plate and "*" in masked
        assert sum(c.isdigit() for c in masked) <= 3  # province code + one digit at most


def test_mask_plate_none():
    assert mask_plate(None) is None and plate_key(None) is None


def test_plate_key_matches_spellings():
    assert plate_key("24A-686.68") == plate_key("24a 686 68") == plate_key("24A68668") == "24A68668"
    assert plate_key("--") is None


def test_sensitive_roles_are_the_police_page_roles():
    assert SENSITIVE_ROLES == VIEW_ROLES["police"] == ACT_ROLES["police"]
    assert [r for r in ROLES if may_see_sensitive(r)] == ["police", "admin"]
    assert not may_see_sensitive(None)


@pytest.mark.parametrize("role", ["operator", "leadership", None, "unknown"])
def test_plate_for_other_roles_is_masked(role):
    assert plate_for(role, "24A-686.68") == "24A-6**.**"


@pytest.mark.parametrize("role", ["police", "admin"])
def test_plate_for_police_is_whole(role):
    assert plate_for(role, "24A-686.68") == "24A-686.68"
