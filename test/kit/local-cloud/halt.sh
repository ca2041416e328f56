#!/usr/bin/env bash
# Stops one local "machine" (the destroy of its terraform_data): ends its whole process group, then removes its
# directory, which holds the only on-disk copy of its user-data.
set -uo pipefail
dir="${1:?usage: halt.sh MACHINE_DIR}"
# The machine is one session (setsid): its id is the boot script's pid. `timeout` moves its children into process
# groups of their own within that session, so the session, not the group, is what must end.
session_pids() { # SID: the pids of every process in that session
  local entry stat rest
  for entry in /proc/[0-9]*; do
    { IFS= read -r stat <"$entry/stat"; } 2>/dev/null || continue
    rest=${stat##*) } # state ppid pgrp session ...
    read -r _ _ _ rest _ <<<"$rest"
    [[ $rest == "$1" ]] && printf '%s\n' "${entry#/proc/}"
  done
}
sid=$(cat "$dir/pid" 2>/dev/null || true)
if [[ "$sid" =~ ^[0-9]+$ ]]; then
  mapfile -t pids < <(session_pids "$sid")
  ((${#pids[@]} == 0)) || kill -TERM -- "${pids[@]}" 2>/dev/null
  for _ in $(seq 50); do
    mapfile -t pids < <(session_pids "$sid")
    ((${#pids[@]} > 0)) || break
    sleep 0.1
  done
  ((${#pids[@]} == 0)) || kill -KILL -- "${pids[@]}" 2>/dev/null
fi
rm -rf -- "$dir"
echo "local machine in $dir stopped"
