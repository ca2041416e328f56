#!/usr/bin/env bash
# Stops one local "machine" (the destroy of its terraform_data): ends its whole process group, then removes its
# directory, which holds the only on-disk copy of its user-data.
set -uo pipefail
dir="${1:?usage: halt.sh MACHINE_DIR}"
pid=$(cat "$dir/pid" 2>/dev/null || true)
if [[ "$pid" =~ ^[0-9]+$ ]]; then
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -rf -- "$dir"
echo "local machine in $dir stopped"
