"""The device registry a province keeps: file formats, validation, storage, credentials.

- `model`: one registry entry (id, name, family, kind, unit, location, interval, metadata);
- `formats`: CSV, YAML and GeoJSON files parsed into entries, every problem with its line;
- `store`: the devices table and the alarm-level history (import, edit, retire, restore);
- `credentials`: device MQTT passwords in Mosquitto's password-file format;
- `cli`: `ioc devices ...`.
"""
