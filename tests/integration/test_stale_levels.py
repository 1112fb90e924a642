"""Disaster levels and air-quality indices the alerts worker stopped refreshing are not shown
as current on the map."""

from __future__ import annotations

import pytest

from alerts import queries
from dashboards import ops_queries

pytestmark = pytest.mark.integration


def test_old_levels_and_indices_are_left_out(db_conn):
    db_conn.execute(
        "INSERT INTO unit_hazard_levels (unit_id, level, base_level, uplift, colour, label,"
        " hazards, basis, updated_at) VALUES "
        "('sa_pa', 3, 3, 0, '#FF8C00', 'Cấp 3', '{}', '{}', now()),"
        "('bat_xat', 4, 4, 0, '#FF0000', 'Cấp 4', '{}', '{}', now() - interval '2 hours')"
    )
    db_conn.execute(
        "INSERT INTO air_quality_index (device_id, standard, aqi, category, dominant, sub_indices,"
        " computed_at) VALUES ('aq-new', 'vn_aqi', 80, 2, 'pm25', '{}', now()),"
        "('aq-old', 'vn_aqi', 160, 4, 'pm25', '{}', now() - interval '3 hours')"
    )
    assert {h.unit_id for h in queries.unit_hazard_levels(db_conn)} == {"sa_pa", "bat_xat"}
    assert ops_queries.load_unit_levels(db_conn) == {"sa_pa": 3}
    fresh = queries.air_quality_indices(db_conn, max_age_s=ops_queries.AQI_MAX_AGE_S)
    assert [s.device_id for s in fresh] == ["aq-new"]
    assert len(queries.air_quality_indices(db_conn)) == 2
