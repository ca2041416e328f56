#!/bin/bash
# Ends this VM's compute billing: on Azure a VM that powers itself off stays allocated and billed, so right before its
# power-off the boot script runs this (GR_END_COMMAND_B64, as root, bounded to 120 s), which asks Azure Resource
# Manager to deallocate the VM, as the VM's user-assigned managed identity. end-command.ts writes the values above
# this file's body (IMDS, ARM: the endpoints; ARM_RESOURCE: the token's audience; API_VERSION; VM_ID; IDENTITY_ID).
# Deallocation ends the compute bill; the OS disk (and a public IP) stay billed until the stop job or mode: sweep
# deletes them. The token reaches curl on stdin (-H @-), never its argv; the metadata service is reached without any
# proxy, as Azure requires. What it prints goes to the boot log, first line only: the reason comes first.
set -u
: "${IMDS:?}" "${ARM:?}" "${ARM_RESOURCE:?}" "${API_VERSION:?}" "${VM_ID:?}" "${IDENTITY_ID:?}"

# A reply is its body, then its HTTP status on a last line of its own (curl -w).
status() { printf %s "${1##*$'\n'}"; }
# The error's own words: the code (ARM) or description (metadata service) from its JSON body, else the body.
why() {
  local b=${1%$'\n'*}
  if [[ $b =~ \"(code|error_description)\"[[:space:]]*:[[:space:]]*\"([^\"]*)\" ]]; then b=${BASH_REMATCH[2]}; fi
  b=${b//[[:space:]]/ }
  printf %s "${b:0:120}"
}

reply=$(curl -q -sS --noproxy '*' --max-time 10 --retry 3 --retry-connrefused --retry-max-time 40 -w '\n%{http_code}' \
  -H Metadata:true -G "$IMDS/metadata/identity/oauth2/token" --data-urlencode api-version=2018-02-01 \
  --data-urlencode "resource=$ARM_RESOURCE" --data-urlencode "msi_res_id=$IDENTITY_ID" 2>&1) || {
  echo "no token: the Instance Metadata Service did not answer: $(why "$reply")"
  exit 2
}
[[ $(status "$reply") == 200 ]] || {
  echo "no token for the identity (HTTP $(status "$reply"); is it assigned to this VM?): $(why "$reply")"
  exit 2
}
[[ ${reply%$'\n'*} =~ \"access_token\"[[:space:]]*:[[:space:]]*\"([^\"]+)\" ]] || {
  echo "no token: the Instance Metadata Service answered without an access_token"
  exit 3
}
# Deallocate is idempotent: curl retries it on timeouts, 408, 429 and 5xx.
reply=$(printf 'Authorization: Bearer %s\n' "${BASH_REMATCH[1]}" | curl -q -sS --max-time 20 --retry 3 --retry-max-time 60 \
  -w '\n%{http_code}' -H @- -H 'Content-Type: application/json' --data '' "$ARM$VM_ID/deallocate?api-version=$API_VERSION" 2>&1) || {
  echo "Azure Resource Manager did not answer: $(why "$reply")"
  exit 4
}
[[ $(status "$reply") == 20[02] ]] || {
  echo "Azure Resource Manager refused to deallocate (HTTP $(status "$reply")): $(why "$reply") ($VM_ID)"
  exit 4
}
echo "deallocation accepted (HTTP $(status "$reply")): $VM_ID"
