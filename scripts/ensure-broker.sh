#!/usr/bin/env bash
# The embedded MQTT broker is Mosquitto when it is installed (full persistence); without it the
# demo falls back to rumqttd from PyPI and says what that loses. Install Mosquitto when we can.
set -eu
if [ -n "${IOC_MQTT_URL:-}" ] || command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Mosquitto (the embedded MQTT broker) with apt-get..." >&2
  (apt-get -o DPkg::Lock::Timeout=300 install -y -qq mosquitto >/dev/null 2>&1 || { apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq mosquitto; }) >/dev/null 2>&1 \
    || echo "could not install mosquitto; using the rumqttd fallback" >&2
  # Debian starts a system broker on 1883 on install; ours uses its own port and config.
else
  echo "note: Mosquitto is not installed; using the rumqttd fallback (sudo apt-get install mosquitto for full persistence)" >&2
fi
exit 0
