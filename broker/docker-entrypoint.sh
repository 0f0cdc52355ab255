#!/bin/sh
# Entrypoint of the mosquitto service in docker-compose.yml.
#
# On first start, writes the dynamic-security file (plugin_opt_config_file in
# broker/mosquitto.conf) with fleethub's own accounts and roles; tablets and
# agents are added later by fleethub over $CONTROL/dynamic-security/v1. Then
# hands over to the image's own entrypoint, which execs mosquitto.
#
# Every account is bound to one client id, its username (the plugin refuses
# any other), so that no account can take over another's session:
#   MQTT_HUB_CLIENT_ID-N, MQTT_HUB_CLIENT_ID-N-out   role hub (routing), for
#                          each shard N < MQTT_HUB_SHARDS; MQTT_HUB_PASSWORD
#   MQTT_WEB_CLIENT_ID     role panel (HTTP tablets' heartbeats); MQTT_HUB_PASSWORD
#   fleethub-health        role health (this service's healthcheck); MQTT_HUB_PASSWORD
#   fleethub-provision     role provision ($CONTROL: pairing, revocation, agent
#                          logins); MQTT_PROVISION_PASSWORD
#
# Once the file exists the broker owns it, and this script leaves it alone: to
# change a password later, or to upgrade a file written by an older version,
# see broker/README.md.
#
# DYNSEC_FILE and NEXT_ENTRYPOINT exist for tests/test_compose.py, which runs
# this script outside the container.
set -eu

: "${MQTT_HUB_PASSWORD:?MQTT_HUB_PASSWORD must be set}"
: "${MQTT_PROVISION_PASSWORD:?MQTT_PROVISION_PASSWORD must be set}"
hub_id=${MQTT_HUB_CLIENT_ID:-fleethub-hub}
shards=${MQTT_HUB_SHARDS:-1}
web_id=${MQTT_WEB_CLIENT_ID:-fleethub-web}

dynsec=${DYNSEC_FILE:-/mosquitto/data/dynamic-security.json}

for name in "$hub_id" "$web_id"; do
    case $name in
        '' | *[!A-Za-z0-9._-]*) echo "client ids: letters, digits, . _ - only (got '$name')" >&2; exit 1 ;;
    esac
done
case $shards in
    '' | *[!0-9]* | 0) echo "MQTT_HUB_SHARDS: a number of shards, 1 or more" >&2; exit 1 ;;
esac
if [ "$MQTT_HUB_PASSWORD" = "$MQTT_PROVISION_PASSWORD" ]; then
    echo "MQTT_PROVISION_PASSWORD must differ from MQTT_HUB_PASSWORD" >&2
    exit 1
fi

# The value of a one-line JSON field ("name": value) in a file written by
# mosquitto_ctrl: one field per line, strings without quotes or backslashes.
field() {
    sed -n "s/^[[:space:]]*\"$1\":[[:space:]]*\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}[[:space:]]*\$/\1/p" "$2" | head -n 1
}

# One account: its username is its client id. mosquitto_ctrl hashes the
# password offline (PBKDF2-SHA512 with a fresh salt, as the plugin expects);
# only the hash is kept, the admin role it writes is not used.
account() {
    scratch="$dir/.fleethub-hash.json"
    rm -f "$scratch"
    mosquitto_ctrl dynsec init "$scratch" "$1" "$3" >/dev/null
    hash=$(field password "$scratch")
    salt=$(field salt "$scratch")
    iterations=$(field iterations "$scratch")
    rm -f "$scratch"
    if [ -z "$hash" ] || [ -z "$salt" ] || [ -z "$iterations" ]; then
        echo "could not read a password hash from mosquitto_ctrl dynsec init" >&2
        exit 1
    fi
    printf '{"username": "%s", "clientid": "%s", "textname": "fleethub %s",\n "roles": [{"rolename": "%s"}], "password": "%s", "salt": "%s", "iterations": %s}' \
        "$1" "$1" "$2" "$2" "$hash" "$salt" "$iterations"
}

acl() {
    printf '{"acltype": "%s", "topic": "%s", "priority": 0, "allow": true}' "$1" "$2"
}

rw() {
    acl publishClientSend "$1"; printf ',\n'
    acl publishClientReceive "$1"; printf ',\n'
    acl subscribePattern "$1"
}

if [ ! -f "$dynsec" ]; then
    umask 077
    dir=$(dirname "$dynsec")
    mkdir -p "$dir"
    clients=""
    add() {
        entry=$(account "$@")  # one assignment per account: set -e sees a failure
        clients="${clients:+$clients,
}$entry"
    }
    n=0
    while [ "$n" -lt "$shards" ]; do
        add "$hub_id-$n" hub "$MQTT_HUB_PASSWORD"
        add "$hub_id-$n-out" hub "$MQTT_HUB_PASSWORD"
        n=$((n + 1))
    done
    add "$web_id" panel "$MQTT_HUB_PASSWORD"
    add fleethub-health health "$MQTT_HUB_PASSWORD"
    add fleethub-provision provision "$MQTT_PROVISION_PASSWORD"
    # The roles match broker/dynsec_file.py SERVICE_ROLES (tests/test_compose.py
    # checks it). Default access denies publishing and subscribing.
    control='$CONTROL/dynamic-security/v1'
    cat >"$dynsec.new" <<EOF
{
"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true,
                     "subscribe": false, "unsubscribe": true},
"clients": [
$clients
],
"groups": [],
"roles": [
{"rolename": "hub", "acls": [
$(rw 'tablets/#'),
$(rw 'fleets/#'),
$(rw 'agents/#')
]},
{"rolename": "panel", "acls": [
$(acl publishClientSend 'tablets/+/heartbeat')
]},
{"rolename": "provision", "acls": [
$(acl publishClientSend "$control"),
$(acl publishClientReceive "$control/response"),
$(acl subscribePattern "$control/response")
]},
{"rolename": "health", "acls": [
$(acl publishClientReceive '$SYS/broker/uptime'),
$(acl subscribePattern '$SYS/broker/uptime')
]}
]
}
EOF
    # Mosquitto drops root and rewrites the file (new file + rename) after
    # every command: the file and its directory belong to the mosquitto user.
    chown mosquitto:mosquitto "$dynsec.new" "$dir"
    mv "$dynsec.new" "$dynsec"
fi

exec "${NEXT_ENTRYPOINT:-/docker-entrypoint.sh}" "$@"
