-- Administrative units, not districts (issue 16): since 1 July 2025 Viet Nam has two levels of
-- local government, province and commune; every area key names a unit of the configured level.
-- Columns and tables are renamed in place (data kept); `ioc units migrate` maps old keys.
ALTER TABLE devices RENAME COLUMN district TO unit_id;
ALTER INDEX devices_family_district RENAME TO devices_family_unit;
ALTER TABLE kpi_values RENAME COLUMN district TO unit_id;
ALTER TABLE alerts RENAME COLUMN district TO unit_id;
ALTER INDEX alerts_kind_district RENAME TO alerts_kind_unit;
ALTER TABLE district_hazard_levels RENAME TO unit_hazard_levels;
ALTER TABLE unit_hazard_levels RENAME COLUMN district TO unit_id;
ALTER TABLE district_hazard_history RENAME TO unit_hazard_history;
ALTER TABLE unit_hazard_history RENAME COLUMN district TO unit_id;
