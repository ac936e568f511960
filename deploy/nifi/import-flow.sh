#!/bin/sh
# One-shot (compose service `nifi-flow-import`): imports a NiFi 2.x flow definition into NiFi's
# root process group and starts it, through NiFi's REST API, unless a group of that name is
# already there (then it changes nothing: a group stopped or edited by hand stays as it is).
#
# Runs in the apache/nifi:2.11.0 image, which ships curl and jq (nifi-docker/dockerhub/Dockerfile
# at rel/nifi-2.11.0: jq on line 61, curl from the base image, used on lines 70-82). The REST
# calls, in nifi-web-api at that tag (nifi-framework-bundle/nifi-framework/nifi-web/nifi-web-api/
# src/main/java/org/apache/nifi/web/api/):
#   POST /access/token (form username, password; the JWT as the body)  AccessResource.java 91-113
#   GET  /flow/process-groups/root (the root group's id)               FlowResource.java 468
#   GET  /process-groups/{id}/process-groups (the existing groups)     ProcessGroupResource.java 1198-1216
#   POST /process-groups/{id}/process-groups/upload (multipart: groupName, positionX, positionY,
#        clientId, file)                                              ProcessGroupResource.java 2669-2716
#   PUT  /flow/process-groups/{id}/controller-services {state: ENABLED} FlowResource.java 1223
#   PUT  /flow/process-groups/{id} {id, state: RUNNING}                FlowResource.java 1017-1036
# A bearer token in the Authorization header needs no CSRF token: NiFi's CSRF check applies to
# requests carrying its bearer cookie (nifi-web-security/src/main/java/org/apache/nifi/web/
# security/csrf/CsrfCookieRequestMatcher.java 34-37), which curl never sends here.
#
# Parameters: every FLOW_PARAM_<name> variable sets parameter <name> of the flow's parameter
# context in the uploaded definition. NiFi creates a new context from the definition's values,
# sensitive ones included (nifi-framework-components/src/main/java/org/apache/nifi/flow/
# synchronization/StandardVersionedComponentSynchronizer.java: createParameter, lines 2499-2525,
# `.value(versionedParameter.getValue())`); a context of that name that already exists is
# reused as it is (selectParameterContext, lines 2401-2417). A FLOW_PARAM_ naming no parameter of the flow, or a
# sensitive parameter left without a value, is an error: the flow would never run.
#
# TLS: NiFi's certificate is self-signed and made by NiFi itself (see docs/ec2.md), so curl
# does not verify it (-k); the connection stays on the compose network.
set -eu

: "${NIFI_URL:=https://nifi:8443}"
: "${FLOW_FILE:=/opt/nifi/flows/snowstream-ingest.flow.json}"
: "${NIFI_USERNAME:?}" "${NIFI_PASSWORD:?}"
: "${WAIT_SECONDS:=600}"
api="$NIFI_URL/nifi-api"

say() { echo "nifi-flow-import: $*"; }
die() { say "$*" >&2; exit 1; }

[ -r "$FLOW_FILE" ] || die "cannot read $FLOW_FILE"

# The parameters this run sets, as a JSON object.
params=$(jq -n 'env | with_entries(select(.key | startswith("FLOW_PARAM_")) | .key |= ltrimstr("FLOW_PARAM_"))')
unknown=$(jq -r --argjson p "$params" \
  '[.parameterContexts[]?.parameters[]?.name] as $names | $p | keys[] | select(. as $k | $names | index($k) | not)' \
  "$FLOW_FILE")
[ -z "$unknown" ] || die "FLOW_PARAM_ names no parameter of $FLOW_FILE: $unknown"
unset_sensitive=$(jq -r --argjson p "$params" \
  '.parameterContexts[]?.parameters[]? | select(.sensitive and ((.value // "") == "") and (($p[.name] // "") == "")) | .name' \
  "$FLOW_FILE")
[ -z "$unset_sensitive" ] || die "no value for the sensitive parameter(s): $unset_sensitive"

# NiFi answers HTTP long before its flow controller is ready: retry the first calls.
deadline=$(( $(date +%s) + WAIT_SECONDS ))
token=
until token=$(curl -ksf -X POST "$api/access/token" \
    --data-urlencode "username=$NIFI_USERNAME" --data-urlencode "password=$NIFI_PASSWORD") \
    && [ -n "$token" ] \
    && root=$(curl -ksf -H "Authorization: Bearer $token" "$api/flow/process-groups/root" \
      | jq -er '.processGroupFlow.id'); do
  [ "$(date +%s)" -lt "$deadline" ] || die "NiFi at $NIFI_URL gave no token and root group within ${WAIT_SECONDS}s (credentials wrong, or NiFi not up)"
  sleep 5
done

call() { # METHOD PATH [curl args...]: the body, or exit with NiFi's answer
  method=$1 path=$2
  shift 2
  out=$(curl -ks -X "$method" -H "Authorization: Bearer $token" -w '\n%{http_code}' "$@" "$api$path")
  code=$(printf '%s' "$out" | tail -n 1)
  body=$(printf '%s' "$out" | sed '$d')
  case $code in
    2??) printf '%s' "$body" ;;
    *) die "$method $path answered $code: $body" ;;
  esac
}

name=$(jq -r '.flowContents.name' "$FLOW_FILE")
groups=$(call GET "/process-groups/$root/process-groups")
existing=$(printf '%s' "$groups" \
  | jq -r --arg n "$name" '[.processGroups[] | select(.component.name == $n) | .id] | first // empty')
if [ -n "$existing" ]; then
  say "process group \"$name\" is already there ($existing): nothing to do"
  exit 0
fi

flow=$(jq --argjson p "$params" \
  '.parameterContexts |= with_entries(.value.parameters |= map(if $p[.name] != null then .value = $p[.name] else . end))' \
  "$FLOW_FILE")
uploaded=$(printf '%s' "$flow" | call POST "/process-groups/$root/process-groups/upload" \
  -F "groupName=$name" -F positionX=0 -F positionY=0 -F "clientId=nifi-flow-import" \
  -F "file=@-;type=application/json")
group=$(printf '%s' "$uploaded" | jq -er '.id')
say "imported \"$name\" as process group $group"

if [ "$(jq '[.. | objects | .controllerServices? // empty | .[]] | length' "$FLOW_FILE")" -gt 0 ]; then
  call PUT "/flow/process-groups/$group/controller-services" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$group\",\"state\":\"ENABLED\"}" >/dev/null
  say "controller services enabled"
fi
call PUT "/flow/process-groups/$group" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$group\",\"state\":\"RUNNING\"}" >/dev/null

# Every processor and port not disabled in the definition must run; NiFi validates components
# asynchronously, so give it a minute.
expected=$(jq '[.. | objects | (.processors?, .inputPorts?, .outputPorts?) // empty | .[]
  | select(.scheduledState != "DISABLED")] | length' "$FLOW_FILE")
tries=0
while :; do
  counts=$(call GET "/process-groups/$group" | jq -r '"\(.runningCount // 0) \(.invalidCount // 0)"')
  running=${counts% *} invalid=${counts#* }
  [ "$running" -lt "$expected" ] || break
  tries=$((tries + 1))
  [ "$tries" -lt 12 ] || die "\"$name\" has $running of $expected components running, $invalid invalid: see its bulletins in the NiFi UI"
  sleep 5
done
say "started \"$name\": $running components running"
