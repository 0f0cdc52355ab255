#!/bin/sh
# Entrypoint of the mosquitto service in docker-compose.yml.
#
# Makes sure /mosquitto/config/passwd exists and holds the hub's current
# password (MQTT_HUB_USERNAME / MQTT_HUB_PASSWORD), keeps the tablets' entries
# that are already in it, gives the file to the mosquitto user (Mosquitto 2
# reads it after dropping root), then hands over to the image's own
# entrypoint, which execs mosquitto.
set -eu

: "${MQTT_HUB_USERNAME:?MQTT_HUB_USERNAME must be set}"
: "${MQTT_HUB_PASSWORD:?MQTT_HUB_PASSWORD must be set}"

pwfile=/mosquitto/config/passwd

umask 077
[ -f "$pwfile" ] || : >"$pwfile"
# -b adds or updates one user in place; -c would wipe the tablets' entries.
mosquitto_passwd -b "$pwfile" "$MQTT_HUB_USERNAME" "$MQTT_HUB_PASSWORD"
chown mosquitto:mosquitto "$pwfile"
chmod 0600 "$pwfile"

exec /docker-entrypoint.sh "$@"
