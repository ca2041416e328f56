#!/bin/bash
# Deletes this Compute Engine instance: a guest power-off only stops it, and a stopped instance keeps its boot disk
# billed while max_run_duration no longer applies (Compute Engine clears a VM's termination time when it stops). Right
# before its power-off the boot script runs this (GR_END_COMMAND_B64, as root, bounded to 120 s): it takes the
# attached service account's token from the metadata server and asks the Compute API to delete the instance, which
# deletes its boot disk too (auto_delete, stack.ts). end-command.ts writes the values above this file's body
# (METADATA, COMPUTE: the endpoints). The project, zone and name come from the metadata server: the instance deletes
# itself and nothing else. The token reaches curl on stdin (-H @-), never its argv; the metadata server is reached
# without any proxy. What it prints goes to the boot log, first line only: the reason comes first.
set -u
: "${METADATA:?}" "${COMPUTE:?}"

# The boot script says when ($1). Before the runner started, start is most likely still waiting for it, and reads this
# machine's serial console to say why it never came online: a deleted instance has none. Start deletes the machine
# itself when the wait fails; the stop job or a sweep deletes it otherwise.
if [[ ${1-} == before-runner ]]; then
  echo "kept, stopped: the runner never started, so start can read this machine's console; start, stop or a sweep deletes it"
  exit 10
fi

# A reply is its body, then its HTTP status on a last line of its own (curl -w).
status() { printf %s "${1##*$'\n'}"; }
# The error's own words: the message (Compute API) or error_description (metadata server) from its JSON body, else
# the body.
why() {
  local b=${1%$'\n'*}
  if [[ $b =~ \"(message|error_description)\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]]; then b=${BASH_REMATCH[2]}; fi
  b=${b//[[:space:]]/ }
  b=${b%"${b##*[! ]}"}
  printf %s "${b:0:160}"
}
# One value from the metadata server (GET, idempotent: retried on timeouts, 429 and 5xx, and while it does not answer).
metadata() {
  curl -q -sS --noproxy '*' --max-time 5 --retry 3 --retry-connrefused --retry-max-time 20 -w '\n%{http_code}' \
    -H 'Metadata-Flavor: Google' "$METADATA/computeMetadata/v1/$1" 2>&1
}
# The value of a metadata path, or a line saying why not (exit 2).
value() {
  local reply
  reply=$(metadata "$1") || {
    echo "no $1: the metadata server did not answer: $(why "$reply")"
    return 2
  }
  [[ $(status "$reply") == 200 ]] || {
    echo "no $1 (HTTP $(status "$reply")): $(why "$reply")"
    return 2
  }
  printf %s "${reply%$'\n'*}"
}

reply=$(metadata instance/service-accounts/default/token) || {
  echo "no token: the metadata server did not answer: $(why "$reply")"
  exit 2
}
[[ $(status "$reply") == 200 ]] || {
  echo "no token (HTTP $(status "$reply"); is a service account attached, with service-account?): $(why "$reply")"
  exit 2
}
[[ ${reply%$'\n'*} =~ \"access_token\"[[:space:]]*:[[:space:]]*\"([^\"[:space:]]+)\" ]] || {
  echo "no token: the metadata server answered without an access_token"
  exit 3
}
token=${BASH_REMATCH[1]}
project=$(value project/project-id) || {
  echo "$project"
  exit 2
}
# projects/<number>/zones/<zone>
zone=$(value instance/zone) || {
  echo "$zone"
  exit 2
}
zone=${zone##*/}
name=$(value instance/name) || {
  echo "$name"
  exit 2
}
for v in "$project" "$zone" "$name"; do
  [[ $v =~ ^[a-z][a-z0-9.:-]{0,62}$ ]] || {
    echo "the metadata server gave an unexpected project, zone or name: '${v:0:70}'"
    exit 3
  }
done
target="projects/$project/zones/$zone/instances/$name"
# instances.delete answers with an operation; a retry after a throttled (429) or failed (5xx) attempt asks again for
# the same thing. curl retries on timeouts, 408, 429 and 5xx, honouring Retry-After.
reply=$(printf 'Authorization: Bearer %s\n' "$token" | curl -q -sS --max-time 20 --retry 3 --retry-max-time 60 \
  -w '\n%{http_code}' -H @- -X DELETE "$COMPUTE/compute/v1/$target" 2>&1) || {
  echo "the Compute API did not answer for $target: $(why "$reply")"
  exit 4
}
[[ $(status "$reply") == 200 ]] || {
  echo "the Compute API refused to delete $target (HTTP $(status "$reply")): $(why "$reply")"
  exit 4
}
echo "deletion accepted (HTTP 200): $target"
