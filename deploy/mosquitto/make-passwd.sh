#!/bin/sh
# Builds Mosquitto's password file from environment variables, then (optionally) starts
# or reloads the broker. Runs inside the eclipse-mosquitto:2 container (busybox sh), so
# no file holding passwords is ever committed or baked into an image.
#
# Usage
#   make-passwd.sh CMD [ARG...]   build the file, then exec CMD (the compose entrypoint:
#                                 make-passwd.sh /usr/sbin/mosquitto -c .../mosquitto.conf)
#   make-passwd.sh --reload       build the file, then send SIGHUP to the broker so it
#                                 re-reads the password file and the ACL (sessions kept)
#   make-passwd.sh                build the file only
#
# Input (environment)
#   MQTT_INGEST_PASSWORD   required  account ioc-ingest
#   MQTT_ALERTS_PASSWORD   required  account ioc-alerts
#   MQTT_WEB_PASSWORD      required  account ioc-web
#   MQTT_SIM_PASSWORD      optional  account ioc-sim, only when set (demo only)
#   FRIGATE_MQTT_PASSWORD  optional  account frigate, only when set
#   MQTT_ACCOUNTS_FILE     hashed device/gateway accounts kept by the operator with
#                          mosquitto_passwd (default /mosquitto/accounts/passwd)
#   MQTT_AUTH_DIR          where the generated files go (default /mosquitto/auth)
#   MQTT_BROKER_PID        process to signal on --reload (default 1: the broker is
#                          PID 1 in its container because this script execs it)
#
# Output
#   $MQTT_AUTH_DIR/passwd  every account, hashed, mode 0600, owned by user mosquitto
#   $MQTT_AUTH_DIR/health  random password of the health-check account ioc-health,
#                          regenerated at every run (read by the compose health check)
set -eu

AUTH_DIR=${MQTT_AUTH_DIR:-/mosquitto/auth}
PASSWD_FILE=$AUTH_DIR/passwd
HEALTH_FILE=$AUTH_DIR/health
ACCOUNTS_FILE=${MQTT_ACCOUNTS_FILE:-/mosquitto/accounts/passwd}
# Names the operator's accounts file may not use: they belong to the services above.
RESERVED="ioc-ingest ioc-alerts ioc-web ioc-sim ioc-health frigate"

log() { printf 'make-passwd: %s\n' "$*" >&2; }

umask 077
mkdir -p "$AUTH_DIR"
tmp=$(mktemp "$AUTH_DIR/.passwd.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# add USER PASSWORD: one plain "user:password" line, hashed below by mosquitto_passwd -U
# (passwords never appear on a command line).
add() {
    case $2 in
        *'
'*) log "password of $1 contains a newline"; exit 1 ;;
    esac
    printf '%s:%s\n' "$1" "$2" >>"$tmp"
}

add ioc-ingest "${MQTT_INGEST_PASSWORD:?is not set: copy .env.example to .env and fill it in}"
add ioc-alerts "${MQTT_ALERTS_PASSWORD:?is not set: copy .env.example to .env and fill it in}"
add ioc-web "${MQTT_WEB_PASSWORD:?is not set: copy .env.example to .env and fill it in}"
if [ -n "${MQTT_SIM_PASSWORD:-}" ]; then
    add ioc-sim "$MQTT_SIM_PASSWORD"
    log "account ioc-sim enabled (MQTT_SIM_PASSWORD is set): demo only"
fi
if [ -n "${FRIGATE_MQTT_PASSWORD:-}" ]; then
    add frigate "$FRIGATE_MQTT_PASSWORD"
fi
health=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
add ioc-health "$health"

mosquitto_passwd -U "$tmp"

# Operator-managed accounts (devices, gateways): already hashed, appended as they are.
# Lines that are not "name:$<hash-id>$..." or that use a reserved name are skipped.
if [ -f "$ACCOUNTS_FILE" ]; then
    awk -F: -v reserved="$RESERVED" '
        BEGIN { n = split(reserved, r, " "); for (i = 1; i <= n; i++) res[r[i]] = 1 }
        /^[ \t]*(#|$)/ { next }
        ($1 in res) { printf "make-passwd: skipping reserved name %s in %s\n", $1, FILENAME > "/dev/stderr"; next }
        $2 !~ /^\$[0-9]+\$/ { printf "make-passwd: skipping line %d of %s: not a mosquitto_passwd hash\n", FNR, FILENAME > "/dev/stderr"; next }
        { print; count++ }
        END { printf "make-passwd: %d operator account(s) from %s\n", count + 0, FILENAME > "/dev/stderr" }
    ' "$ACCOUNTS_FILE" >>"$tmp"
elif mkdir -p "$(dirname "$ACCOUNTS_FILE")" 2>/dev/null && touch "$ACCOUNTS_FILE" 2>/dev/null; then
    # An empty file, so `mosquitto_passwd FILE NAME` works for the first device too.
    log "created empty accounts file $ACCOUNTS_FILE"
fi

# The broker drops root privileges to user mosquitto before it reads these files.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown mosquitto:mosquitto "$AUTH_DIR" "$tmp"
    if [ -d /mosquitto/data ]; then chown -R mosquitto:mosquitto /mosquitto/data; fi
fi
chmod 0700 "$AUTH_DIR"
chmod 0600 "$tmp"
mv -f "$tmp" "$PASSWD_FILE"
trap - EXIT

umask 077
printf '%s\n' "$health" >"$HEALTH_FILE.tmp"
mv -f "$HEALTH_FILE.tmp" "$HEALTH_FILE"

log "wrote $PASSWD_FILE ($(wc -l <"$PASSWD_FILE") accounts)"

case ${1:-} in
    '') exit 0 ;;
    --reload)
        kill -HUP "${MQTT_BROKER_PID:-1}"
        log "sent SIGHUP to ${MQTT_BROKER_PID:-1}: password file and ACL reloaded"
        ;;
    *) exec "$@" ;;
esac
