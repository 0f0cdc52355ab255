#!/bin/sh
# Entrypoint of the mosquitto service in docker-compose.yml.
#
# On first start, writes the dynamic-security file (plugin_opt_config_file in
# broker/mosquitto.conf) with one client, the hub (MQTT_HUB_USERNAME /
# MQTT_HUB_PASSWORD), and its `hub` role; tablets are added later by fleethub
# over $CONTROL/dynamic-security/v1. Then hands over to the image's own
# entrypoint, which execs mosquitto.
#
# Once the file exists the broker owns it, and this script leaves it alone: to
# change the hub's password later, see broker/README.md.
#
# DYNSEC_FILE and NEXT_ENTRYPOINT exist for tests/test_compose.py, which runs
# this script outside the container.
set -eu

: "${MQTT_HUB_USERNAME:?MQTT_HUB_USERNAME must be set}"
: "${MQTT_HUB_PASSWORD:?MQTT_HUB_PASSWORD must be set}"

dynsec=${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}

# The value of a one-line JSON field ("name": value) in a file written by
# mosquitto_ctrl: one field per line, strings without quotes or backslashes.
field() {
    sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}[[:space:]]*\$/\1/p" "$2" | head -n 1
}

case $MQTT_HUB_USERNAME in
    *[!A-Za-z0-9._-]*) echo "MQTT_HUB_USERNAME: letters, digits, . _ - only" >&2; exit 1 ;;
esac

if [ ! -f "$dynsec" ]; then
    umask 077
    dir=$(dirname "$dynsec")
    mkdir -p "$dir"
    scratch="$dir/.fleethub-hub-hash.json"
    rm -f "$scratch"
    # mosquitto_ctrl hashes the password offline (PBKDF2-SHA512, as the plugin
    # expects); only the hash is kept, its admin role is not used.
    mosquitto_ctrl dynsec init "$scratch" "$MQTT_HUB_USERNAME" "$MQTT_HUB_PASSWORD" >/dev/null
    hash=$(field password "$scratch")
    salt=$(field salt "$scratch")
    iterations=$(field iterations "$scratch")
    rm -f "$scratch"
    if [ -z "$hash" ] || [ -z "$salt" ] || [ -z "$iterations" ]; then
        echo "could not read the hub's password hash from mosquitto_ctrl dynsec init" >&2
        exit 1
    fi
    # The hub role matches broker/dynsec_file.py hub_acls() (tests/test_compose.py
    # checks it). Default access denies publishing and subscribing.
    rw() {
        printf '{"acltype": "publishClientSend", "topic": "%s", "priority": 0, "allow": true},\n' "$1"
        printf '{"acltype": "publishClientReceive", "topic": "%s", "priority": 0, "allow": true},\n' "$1"
        printf '{"acltype": "subscribePattern", "topic": "%s", "priority": 0, "allow": true}' "$1"
    }
    cat >"$dynsec.new" <<EOF
{
"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true,
                     "subscribe": false, "unsubscribe": true},
"clients": [{"username": "$MQTT_HUB_USERNAME", "textname": "fleethub hub",
             "roles": [{"rolename": "hub"}],
             "password": "$hash", "salt": "$salt", "iterations": $iterations}],
"groups": [],
"roles": [{"rolename": "hub", "acls": [
$(rw 'tablets/#'),
$(rw 'fleets/#'),
$(rw 'agents/#'),
$(rw '$CONTROL/dynamic-security/#'),
{"acltype": "publishClientReceive", "topic": "\$SYS/#", "priority": 0, "allow": true},
{"acltype": "subscribePattern", "topic": "\$SYS/#", "priority": 0, "allow": true}
]}]
}
EOF
    # Mosquitto drops root and rewrites the file (new file + rename) after
    # every command: the file and its directory belong to the mosquitto user.
    chown mosquitto:mosquitto "$dynsec.new" "$dir"
    mv "$dynsec.new" "$dynsec"
fi

exec "${NEXT_ENTRYPOINT:-/docker-entrypoint.sh}" "$@"
