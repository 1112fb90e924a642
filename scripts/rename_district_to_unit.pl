#!/usr/bin/perl -pi
# The mechanical rename of issue 16: "district" -> unit (ids: unit_id). Run on files, in place.
# Kept for merging branches written before the rename: apply it to their changed files
# (never to ioc/db/migrations/000*.sql, docs/contracts-draft.md or docs/team-notes.md).
s/\bDistrictLocator\b/UnitLocator/g;
s/\bdistrict_of\b/unit_at/g;
s/\bdistricts\b/units/g; s/\bDistricts\b/Units/g; s/\bDISTRICTS\b/UNITS/g;
s/\b(a|the|one|each|every|per|by|its|their|which|this|same|own|any|no|another|whole|that|first|other) district\b/$1 unit/g;
s/\b(A|The|One|Each|Every|Per|By|Its|Their|Which|This|Any|No|Another|Whole) district\b/$1 unit/g;
s/\bdistrict(s?)(-| )(level|levels|table|name|names|id|ids|code|codes|polygons|polygon|disaster|edge|hazard|map|seat|seats|boundaries|boundary|layer|file|choropleth|breakdown|breakdowns|filter|picker|totals|rows|row|keys|key|grouping)\b/unit$1$2$3/g;
s/\b(unknown|catchment|camera or) district\b/$1 unit/g;
s/-district\b/-unit/g; s/\bdistrict-/unit-/g;
s/\bdistrict\b/unit_id/g;
s/\bDistrict\b/Unit/g; s/\bDISTRICT\b/UNIT/g;
s/DISTRICTS/UNITS/g; s/Districts/Units/g; s/districts/units/g;
s/DISTRICT/UNIT/g; s/District/Unit/g; s/district/unit/g;
