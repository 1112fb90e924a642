-- The device registry a province keeps (ioc.devices): the commune-level unit of each device,
-- retirement (history kept, no alerts, never "silent"), the versioned alarm levels of
-- water-level stations, and the state of each device's MQTT credential (the password itself
-- lives only, hashed, in the broker's password file).
-- unit_id is the area key of issue 16 (0013 renames devices.district to it); added here
-- only where that migration is absent.
ALTER TABLE devices ADD COLUMN IF NOT EXISTS unit_id text;
ALTER TABLE devices ADD COLUMN retired_at timestamptz;
ALTER TABLE devices ADD COLUMN retired_by text;
ALTER TABLE devices ADD COLUMN retire_reason text;

-- Every version of a station's alarm levels: who set them, when and why. The current one is
-- also in devices.metadata (alarm_levels, alarm_levels_version), which is what the rules read.
CREATE TABLE device_alarm_levels (
    device_id   text NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    version     integer NOT NULL CHECK (version > 0),
    level_1     double precision NOT NULL,
    level_2     double precision NOT NULL,
    level_3     double precision NOT NULL,
    datum       text,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    reason      text,
    PRIMARY KEY (device_id, version),
    CHECK (level_1 < level_2 AND level_2 < level_3)
);

CREATE TABLE device_credentials (
    device_id   text PRIMARY KEY REFERENCES devices (device_id) ON DELETE CASCADE,
    state       text NOT NULL CHECK (state IN ('active', 'revoked')),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL
);
