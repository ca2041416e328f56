#!/usr/bin/env bash
# Starts one local "machine": writes the user-data where cloud-init would keep its copy and runs it as a
# detached process group, as a cloud would boot it. Called by the local kind's terraform_data provisioner with
# GR_MACHINE_DIR, GR_USER_DATA (the boot script, secrets included), GR_STAND_INS and GR_MACHINE_TAGS (the ownership
# tags, as JSON: a cloud keeps them with the machine, and a sweep finds the machine by them) in its environment.
set -euo pipefail
: "${GR_MACHINE_DIR:?}" "${GR_USER_DATA:?}" "${GR_STAND_INS:?}"

umask 077
mkdir -p "$GR_MACHINE_DIR/cloud/instance"
user_data="$GR_MACHINE_DIR/cloud/instance/user-data.txt"
printf '%s' "$GR_USER_DATA" > "$user_data"
unset GR_USER_DATA
tags=${GR_MACHINE_TAGS:-'{}'}
printf '%s\n' "$tags" > "$GR_MACHINE_DIR/tags.json"

# A baked image (runner-preinstalled): the unpacked runner the world gives, where the local kind installs the runner.
if [[ -n ${LOCAL_KIND_IMAGE_RUNNER-} ]]; then
  cp -R -- "$LOCAL_KIND_IMAGE_RUNNER" "$GR_MACHINE_DIR/actions-runner"
fi
mkdir -p "$GR_MACHINE_DIR/tmp"
# A clean environment, as a booting VM has: nothing of Terraform's (TF_VAR_jit_config_* of every runner, the
# token) may reach this machine's processes. The stand-ins (power-off, user management) come first on PATH so the
# boot script touches nothing outside the machine directory; its temporary files stay inside it too. All output
# goes to the machine's console log, and no pipe of Terraform's is inherited (it would wait for them to close).
env -i PATH="$GR_STAND_INS:$PATH" HOME="$GR_MACHINE_DIR" LANG=C.UTF-8 TMPDIR="$GR_MACHINE_DIR/tmp" \
  GR_MACHINE_DIR="$GR_MACHINE_DIR" setsid bash "$user_data" </dev/null >>"$GR_MACHINE_DIR/console.log" 2>&1 &
echo "$!" > "$GR_MACHINE_DIR/pid"
echo "local machine started in $GR_MACHINE_DIR (pid $!)"
