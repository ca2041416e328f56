#!/usr/bin/env bash
# Boot script: install the Actions runner, check GPUs, run one job, power off. User-data is "#!/bin/bash", `export
# GR_X='v'` lines, this file minus line 1 (within the cloud's user-data limit). Reads only GR_* (see want;
# GR_TIME_UNIT_SECONDS, GR_SYSTEM_ROOT: test only). Logs "gpu-runner: ...", last "powering off: <reason>". main runs
# from the last line: bash has read the file.
# shellcheck disable=SC2317 # functions run from traps
set +x -u -o pipefail # never trace: the JIT config is in memory
umask 077
CONSOLE=/dev/console STATE='' JIT='' OFF='' TIMER='' STEP='' RUNNER='' FD='' PART='' JOB='' UNIT=60
LIFE='' DEADLINE='' REARM='' ID_FILE=''

log() {
  local l="gpu-runner: $*"
  l=${l//[[:cntrl:]]/ } # command output cannot forge lines
  printf '%s\n' "$l"
  [[ -w $CONSOLE ]] && { printf '%s\n' "$l" >>"$CONSOLE"; } 2>/dev/null
  return 0
}
# Milestones with their time (epoch seconds, to the millisecond), on a line of their own that boot lines leave out: the
# action reads them into the start's timeline of where the minutes went.
mark() {
  local l="gpu-runner-time: ${EPOCHREALTIME%???} $1"
  printf '%s\n' "$l"
  [[ -w $CONSOLE ]] && { printf '%s\n' "$l" >>"$CONSOLE"; } 2>/dev/null
  return 0
}
line1() {
  local l=''
  IFS= read -r l <"$1"
  printf '%s' "${l:0:200}"
}
# The only way out. Nothing may run after poweroff, which returns at once. (Each cloud's stack ends the machine.)
power_off() {
  local p
  [[ -n $OFF ]] && return 0
  OFF=1
  # One power-off per machine, whichever process gets here first: a subshell (the lifetime timer) may run this too,
  # and under load a signal can reach one mid-way. mkdir is atomic; the loser leaves without a word.
  [[ -z $STATE ]] || mkdir -- "$STATE/powering-off" 2>/dev/null || exit 0
  trap '' USR1 HUP INT TERM
  trap - EXIT
  log "powering off: $1"
  [[ -z $RUNNER && -r $STATE/runner.pid ]] && RUNNER=$(<"$STATE/runner.pid")
  for p in "$TIMER" "$STEP" "$RUNNER"; do [[ -z $p ]] || kill "$p" 2>/dev/null; done
  if [[ -n $RUNNER ]]; then end_through_cloud runner-started; else end_through_cloud before-runner; fi
  halt_machine
  exit 0
}
# Where a guest power-off does not end the bill (a cloud that keeps a powered-off VM allocated, or a stopped
# machine's disk), the cloud's stack gives a command (GR_END_COMMAND_B64) that ends this machine through the cloud's
# own API: it deallocates or deletes it (stacks/<cloud>/ says which). It runs as root, bounded; whatever it does (a
# refusal, a throttle, no token), the power-off follows and the boot log says why. Nothing of the runner's is left
# running by then. The lifetime re-arm runs it too, on a later boot. A job with sudo can still remove it, or keep the
# machine. Its one argument says when: before-runner (start may still be waiting, and reading this machine's
# console), runner-started, or none (a later boot). Exit code 10: it left the machine as it is on purpose, saying why.
end_through_cloud() {
  local f rc c=${GR_END_COMMAND_B64-}
  [[ -n $c ]] || return 0
  f=$(mktemp "${TMPDIR:-/tmp}/gpu-runner-end.XXXXXXXX") || { log "ending through the cloud: no temporary file"; return 0; }
  if printf %s "$c" | base64 -d >"$f" 2>/dev/null; then
    log "ending the machine through the cloud's API"
    timeout 120 bash "$f" "${1-}" >"$f.out" 2>&1
    rc=$?
    case $rc in
    0) log "ended through the cloud's API" ;;
    10) log "not ended through the cloud's API: $(line1 "$f.out")" ;;
    *) log "ending through the cloud's API failed (exit code $rc): $(line1 "$f.out")" ;;
    esac
  else
    log "ending through the cloud: GR_END_COMMAND_B64 is not base64"
  fi
  rm -f -- "$f" "$f.out"
}
halt_machine() { timeout 60 poweroff >/dev/null 2>&1 || timeout 60 shutdown -h now >/dev/null 2>&1 || log "poweroff failed"; }
step() { # run in the background and wait: a signal is handled at once, not after the command
  "$@" &
  STEP=$!
  wait "$STEP"
  set -- $?
  STEP=''
  return "$1"
}
bad() { power_off "invalid setting GR_$1='${2:0:100}': expected $3"; }
want() { # VAR NAME DEFAULT REGEX EXPECTED: VAR=${GR_NAME:-DEFAULT}, checked
  local n=GR_$2
  V=${!n:-$3}
  [[ $V =~ $4 ]] || bad "$2" "$V" "$5"
  printf -v "$1" %s "$V"
}

# The lifetime cap, armed first and counted from the FIRST boot. This boot: a timer that signals main (which logs the
# reason and stops the runner); if main is gone or wedged (30 s) it powers off itself. Every boot, this one included:
# the deadline (epoch seconds, in a root-only file) is re-armed by a script that gpu-runner-lifetime.service runs at
# each boot (cloud-init runs user-data once: a reboot, say for a driver, would drop a timer and a `shutdown -P` that
# only this script armed). It powers off at once past the deadline, else arms a systemd timer for the time left, with
# `shutdown -P` 2 minutes later as backstop. Where a guest agent runs this script at every boot, a deadline this
# machine already wrote is kept. What this is not: a cap a root job cannot undo. With sudo (the default) a job can kill
# the timers, `shutdown -c`, disable the unit or rewrite the deadline; only a cap the cloud holds outside the machine
# (a maximum run duration) is out of its reach. This one survives reboots, not a job set on escaping it.
arm_lifetime() {
  local main=$$ sys now d='' id='' left e
  want UNIT TIME_UNIT_SECONDS 60 '^[1-9][0-9]{0,3}$' '1 to 9999'
  want LIFE MAX_LIFETIME_MINUTES '' '^[1-9][0-9]{0,5}$' 'an integer > 0'
  want sys SYSTEM_ROOT '' '^(/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)*$' 'empty or an absolute path'
  DEADLINE=$sys/var/lib/gpu-runner/deadline REARM=$sys/var/lib/gpu-runner/lifetime
  ID_FILE=$sys/sys/class/dmi/id/product_uuid
  printf -v now '%(%s)T' -1
  { read -r d id <"$DEADLINE"; } 2>/dev/null
  if [[ $d =~ ^[0-9]{1,12}$ && $id == "$(machine_id)" ]]; then
    left=$((d - now))
    ((left > 0)) || life_over
    log "lifetime armed: $(((left + UNIT - 1) / UNIT)) of $LIFE minute(s) left, counted from this machine's first boot"
  else
    d=$((now + LIFE * UNIT)) left=$((LIFE * UNIT))
    e=$({ mkdir -p -- "${DEADLINE%/*}" && chmod 0700 -- "${DEADLINE%/*}" && printf '%s %s\n' "$d" "$(machine_id)" >"$DEADLINE"; } 2>&1) ||
      power_off "could not write the lifetime deadline $DEADLINE: ${e:0:200}"
    log "lifetime armed: powering off after $LIFE minute(s) whatever happens"
  fi
  trap life_over USR1
  (
    trap - EXIT HUP INT
    s=''
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$left" &
    s=$!
    wait "$s"
    if kill -USR1 "$main" 2>/dev/null; then
      sleep 30 &
      s=$!
      wait "$s"
    fi
    life_over
  ) &
  TIMER=$!
  e=$(install_rearm "$sys" 2>&1) || power_off "could not install the lifetime re-arm: ${e:0:200}"
  log "lifetime re-armed at every boot by gpu-runner-lifetime.service until $d (epoch s); a job with sudo can still remove it"
  # This boot's systemd timer fires a time unit after the deadline: the timer above goes first, with its reason.
  bash "$REARM" "$UNIT"
}
life_over() { power_off "max lifetime reached ($LIFE minute(s))"; }
# The per-boot script: these functions, written out by declare -f (so shellcheck reads them here), and the values.
install_rearm() { # SYSTEM_ROOT
  local unit=gpu-runner-lifetime.service dir=$1/etc/systemd/system
  {
    printf '#!/bin/bash\n# gpu-runner lifetime re-arm, written at first boot by the boot script, run at every boot by %s\n' "$unit"
    printf 'set -u\nCONSOLE=%q DEADLINE=%q REARM=%q ID_FILE=%q UNIT=%q LIFE=%q\n' "$CONSOLE" "$DEADLINE" "$REARM" "$ID_FILE" "$UNIT" "$LIFE"
    # The cloud's end command too: a cap reached on a later boot ends the machine as the first boot's would.
    printf 'GR_END_COMMAND_B64=%q\n' "${GR_END_COMMAND_B64-}"
    declare -f log line1 machine_id end_through_cloud halt_machine rearm
    # shellcheck disable=SC2016 # expanded where it runs
    printf '%s\n' 'rearm "${1:-0}"'
  } >"$REARM.new" && mv -f -- "$REARM.new" "$REARM" || return 1
  mkdir -p -- "$dir/multi-user.target.wants" || return 1
  # Enabled as `systemctl enable` would (a link in multi-user.target.wants): needed from the next boot on, not now.
  printf '%s\n' '[Unit]' 'Description=gpu-runner: power off at the lifetime cap counted from the first boot' \
    'After=systemd-logind.service' '' '[Service]' 'Type=oneshot' "ExecStart=/bin/bash $REARM" '' \
    '[Install]' 'WantedBy=multi-user.target' >"$dir/$unit" && chmod 0644 -- "$dir/$unit" &&
    ln -sfn -- "$dir/$unit" "$dir/multi-user.target.wants/$unit"
}
machine_id() { # the hypervisor's id of this VM: a deadline on a disk copied to another machine is not that one's
  local i=''
  [[ -r $ID_FILE ]] && i=$(line1 "$ID_FILE")
  i=${i//[^A-Za-z0-9-]/}
  printf '%s' "${i:-unknown}"
}
rearm() { # GRACE: seconds past the deadline that the systemd timer fires
  local d='' id='' now left m t
  printf -v now '%(%s)T' -1
  { read -r d id <"$DEADLINE"; } 2>/dev/null
  if [[ ! $d =~ ^[0-9]{1,12}$ ]]; then
    log "powering off: no lifetime deadline readable in $DEADLINE (removed?): failing closed"
    end_through_cloud
    halt_machine
    exit 0
  fi
  if [[ $id != "$(machine_id)" ]]; then
    log "lifetime: $DEADLINE was written on another machine (a copied disk): not armed"
    return 0
  fi
  left=$((d - now))
  if ((left <= 0)); then
    log "powering off: max lifetime reached ($LIFE minute(s), counted from the first boot)"
    end_through_cloud
    halt_machine
    exit 0
  fi
  m=$(((left + 59) / 60 + 2))
  if t=$(timeout 20 systemd-run --unit=gpu-runner-lifetime-cap --on-active="$((left + $1))s" \
    --timer-property=AccuracySec=1s -- /bin/bash "$REARM" 2>&1); then
    t="systemd timer gpu-runner-lifetime-cap in $((left + $1)) s"
  else
    t=${t%%$'\n'*} t="no systemd timer (systemd-run: ${t:0:200})"
  fi
  timeout 20 shutdown -P "+$m" >/dev/null 2>&1 && log "lifetime backstop: shutdown in $m minute(s)"
  log "lifetime: $(((left + UNIT - 1) / UNIT)) of $LIFE minute(s) left, counted from the first boot: $t"
}

# The job runs on this disk, and the user-data (JIT config) is on it. cloud-init keeps, under its directory, the raw
# user-data as received (instances/<id>/user-data.txt: gzip bytes when the stack compressed it), the processed copy
# (user-data.txt.i), the script it runs (scripts/part-001) and its pickled datasource holding both (obj.pkl); a
# guest agent's copy in /tmp is $0. Where a cloud's guest agent keeps the user-data in a directory of its own
# (GR_AGENT_DIR), base64-encoded as delivered, that directory is searched too; the cloud's file (stacks/<cloud>.ts)
# says which files, and what removing them costs. Every regular file under both is searched for the config: as it
# is; in base64, in the file with its whitespace removed (so wrapped lines too); in each gzip stream in the file,
# wherever it starts (see holds). A substring's base64 depends on its offset mod 3: for k = 0, 1, 2 filler bytes
# before the config, its base64 less the first ceil(4k/3) characters (they carry filler bits) and the last 4 (they
# may carry what follows it). grep reads what it looks for from a pipe, never argv. Files holding it are zeroed and removed. The log
# line names each, and each file or directory that could not be checked; a directory that does not exist (an image
# without cloud-init, or without such an agent) is nothing to check. Not removed by this: where a metadata service
# serves the user-data, it serves it to any process on this machine (a hop limit of 1 keeps containers out, not the
# host's processes), so the job, root with sudo, can read it there, and cloud-init writes its copies again at a
# reboot. What protects the credential is that it is spent once the runner has started: it registers a runner that
# takes one job.
scrub() {
  local d f g k s n=0 z=0 b=0 removed='' unchecked='' left='' why='' dirs=() pats=()
  want d CLOUD_INIT_DIR /var/lib/cloud '^(/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)+$' 'an absolute path, not /'
  dirs=("$d")
  want d AGENT_DIR /var/lib/waagent '^(/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)+$' 'an absolute path, not /'
  dirs+=("$d")
  for k in 0 1 2; do # the base64 patterns (holds reads pats)
    f=$(printf '%.*s%s' "$k" xx "$JIT" | base64 -w 0) s=$(((4 * k + 2) / 3))
    ((${#f} <= s + 4)) || pats+=("${f:s:${#f}-s-4}")
  done
  while IFS= read -r -d '' f; do
    [[ -f $f && ! -L $f ]] || continue
    holds "$f"
    case $? in
    0) g='' ;;
    2) g=' (gzip)' ;;
    5) g=' (base64)' ;;
    3)
      unchecked+=", $f (unreadable)"
      continue
      ;;
    4)
      unchecked+=", $f ($why)"
      continue
      ;;
    *) continue ;;
    esac
    shred -z -n 0 -u -- "$f" 2>/dev/null || rm -f -- "$f"
    if [[ -e $f ]]; then
      left+=", $f$g"
    else
      n=$((n + 1)) removed+=", $f$g"
      [[ $g != ' (gzip)' ]] || z=$((z + 1))
      [[ $g != ' (base64)' ]] || b=$((b + 1))
    fi
  done < <(
    for k in "${!dirs[@]}"; do
      [[ -d ${dirs[k]} ]] || continue
      find "${dirs[k]}" -type f -print0 2>"$STATE/find$k" && : >"$STATE/find$k"
    done
    printf '%s\0' "$0"
  )
  # What find could not list is unchecked.
  for k in "${!dirs[@]}"; do
    [[ ! -s $STATE/find$k ]] || unchecked+=", ${dirs[k]} (not all listed: $(line1 "$STATE/find$k"))"
  done
  removed=${removed#, } unchecked=${unchecked#, }
  log "user-data: removed $n on-disk cop(ies) holding the runner credential ($z gzip-compressed, $b base64-encoded)${removed:+: $removed}; could not check: ${unchecked:-none}${left:+; could not remove: ${left#, }}"
}
# holds FILE: 0 holds the config, 1 does not, 2 holds it gzip-compressed, 5 base64-encoded, 3 unreadable, 4 not all
# checked (why says what). Compressed, it is looked for in every gzip stream of the file, not only one at offset 0:
# cloud-init's pickled object holds the raw user-data among other bytes. Every place gzip's magic and method (1f 8b
# 08) appear, found by grep as bytes, is decompressed from there (gzip stops at the stream's end, and only warns of
# what follows it); one that does not decompress is named by its offset (a header-like run of bytes that is no
# stream reads so too), and past the 64th the rest are named as not checked.
holds() {
  local s o n=0 at=''
  why=''
  grep -qF -f <(printf %s "$JIT") -- "$1" 2>/dev/null
  s=$?
  ((s < 2)) || return 3
  ((s == 1)) || return 0
  if ((${#pats[@]})); then # none for a config too short to have any: an empty pattern would match every file
    tr -d '[:space:]' <"$1" 2>/dev/null | grep -qF -f <(printf '%s\n' "${pats[@]}")
    ((PIPESTATUS[1])) || return 5
  fi
  while IFS=: read -r o _; do
    [[ $o =~ ^[0-9]+$ ]] || continue
    if ((++n > 64)); then
      why="gzip headers past the 64th, from byte $o, not checked"
      break
    fi
    tail -c "+$((o + 1))" -- "$1" 2>/dev/null | gzip -dc 2>/dev/null | grep -qF -f <(printf %s "$JIT")
    set -- "$1" "${PIPESTATUS[@]}"
    (($4 != 0)) || return 2
    (($3 == 0 || $3 == 2)) || at+=", $o"
  done < <(LC_ALL=C grep -obaF -f <(printf '\037\213\010') -- "$1" 2>/dev/null)
  at=${at#, }
  if [[ $at == 0 ]]; then
    why="gzip that does not decompress${why:+; $why}"
  elif [[ -n $at ]]; then
    why="gzip at byte(s) ${at:0:200} that does not decompress${why:+; $why}"
  fi
  [[ -z $why ]] || return 4
  return 1
}

settings() {
  local m
  [[ -n $JIT ]] || power_off "invalid setting GR_JIT_CONFIG: empty or missing"
  want VERSION RUNNER_VERSION '' '^[0-9]{1,6}(\.[0-9]{1,6}){2}$' 'a version like 2.329.0'
  want BASE RUNNER_DOWNLOAD_BASE '' '^https?://[^[:space:]]+[^/[:space:]]$' 'an http(s) URL'
  want RNAME RUNNER_NAME '' '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$' '1-100 of A-Za-z0-9._-'
  want USR RUNNER_USER runner '^[a-z_][a-z0-9_-]{0,31}$' 'a user name'
  [[ $USR != root ]] || bad RUNNER_USER root 'a user other than root'
  want SUDO RUNNER_SUDO true '^(true|false)$' 'true or false'
  want PREINSTALLED RUNNER_PREINSTALLED false '^(true|false)$' 'true or false'
  want DIR INSTALL_DIR /opt/actions-runner '^(/[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*)+$' 'an absolute path, not /'
  want IDLE IDLE_TIMEOUT_MINUTES '' '^[1-9][0-9]{0,5}$' 'an integer > 0'
  want GPUS EXPECTED_GPUS '' '^(0|[1-9][0-9]?)$' '0 to 99'
  want WAIT GPU_WAIT_SECONDS 300 '^(0|[1-9][0-9]{0,4})$' '0 to 99999'
  want PRE PRE_RUNNER_SCRIPT_B64 '' '^[A-Za-z0-9+/=[:space:]]*$' base64
  SUDOERS=${GR_SUDOERS_DIR:-/etc/sudoers.d}/90-gpu-runner
  m=$(uname -m)
  case $m in
  x86_64 | amd64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  *) power_off "unsupported architecture '${m:0:50}'" ;;
  esac
  want SHA "RUNNER_SHA256_${ARCH^^}" '' '^[0-9a-fA-F]{64}$' '64 hex digits'
  SHA=${SHA,,}
  log "runner $RNAME: version $VERSION ($ARCH), user $USR (sudo: $SUDO), $GPUS GPU(s) expected, idle timeout $IDLE minute(s)"
}

ensure_user() {
  local e=$STATE/err uid
  if id -u "$USR" >/dev/null 2>&1; then
    # An account the image already has keeps its own rights: a system account's, an admin group's sudo (which
    # GR_RUNNER_SUDO=false would not take away). The action refuses the usual names before anything exists; the
    # image may have others.
    uid=$(id -u "$USR")
    if ! [[ $uid =~ ^[0-9]+$ ]] || ((uid < 1000)); then
      power_off "runner user $USR is a system account of the image (uid ${uid:0:20}): refusing to run jobs as it"
    fi
    log "user $USR already exists"
  else
    useradd --create-home --user-group --shell /bin/bash -- "$USR" >"$e" 2>&1 ||
      power_off "could not create user $USR: $(line1 "$e")"
    log "user created: $USR"
  fi
  if [[ $SUDO == false ]]; then
    rm -f -- "$SUDOERS"
    no_way_to_root
    log "passwordless sudo: not granted"
  else
    { mkdir -p -- "${SUDOERS%/*}" && echo "$USR ALL=(ALL) NOPASSWD:ALL" >"$SUDOERS" && chmod 0440 -- "$SUDOERS"; } 2>"$e" ||
      power_off "could not write $SUDOERS: $(line1 "$e")"
    log "passwordless sudo: granted to $USR"
  fi
}
# With GR_RUNNER_SUDO=false the runner user must have no way to root. A new account has none; one the image already
# has may: an admin group, a group that is root by another door, a sudoers rule for it or one of its groups (cloud-
# init's for the image's default user, a cloud agent's for the group it puts its users in). Such an account is
# refused, not repaired: taking it out of groups and rewriting sudoers files others wrote (aliases, includes, rules
# for ALL, an agent that writes them again) could leave one path open and break the image's own tools, while the
# default runner-user is a new account with none to remove. Root without sudo: docker and lxd (a container with the
# host's / mounted; Docker's and LXD's security pages say their group is root-equivalent), incus-admin and libvirt
# (a VM given the host's disks), disk (the root filesystem's block device, writable), root (what only root's group may
# write). sudo itself is asked what the user may run (sudo -l -U, in the C locale for its wording), so a rule counts
# however it is written; without sudo installed there is no rule to use. Not asked: doas, on no default image.
no_way_to_root() {
  local g groups out=$STATE/sudo-l rc
  groups=$(id -nG "$USR" 2>&1) || power_off "could not list the groups of runner user $USR: ${groups:0:200}"
  groups=" $groups "
  if [[ $groups == *" sudo "* || $groups == *" wheel "* || $groups == *" admin "* ]]; then
    power_off "runner user $USR already exists in an admin group (${groups:1:100}): it would keep sudo although GR_RUNNER_SUDO=false"
  fi
  for g in docker lxd incus-admin libvirt disk root; do
    [[ $groups != *" $g "* ]] ||
      power_off "runner user $USR is in group $g, which is root without sudo: refusing it with GR_RUNNER_SUDO=false (groups:${groups:0:100})"
  done
  command -v sudo >/dev/null || return 0
  LC_ALL=C timeout 20 sudo -n -l -U "$USR" >"$out" 2>&1
  rc=$?
  if ((rc == 0)) && grep -qx "User $USR is not allowed to run sudo on .*" "$out"; then
    return 0
  elif ((rc == 0)) && grep -q "^User $USR may run the following commands" "$out"; then
    g=$(sed -n '/may run the following commands/{n;s/^[[:space:]]*//;p;q}' "$out")
    power_off "runner user $USR may run commands with sudo (${g:0:100}), from a sudoers rule for it or its group: refusing it with GR_RUNNER_SUDO=false"
  fi
  power_off "could not tell what runner user $USR may run with sudo (sudo -l exit code $rc: $(line1 "$out")): refusing it with GR_RUNNER_SUDO=false"
}

# An image baked with the runner (runner-preinstalled: true) keeps it if it is the pinned release or a later one, as
# the runner itself says; anything else (none, older, unreadable) gets the pinned release downloaded as usual.
preinstalled() {
  local have=''
  [[ -x $DIR/bin/Runner.Listener && -x $DIR/run.sh ]] && have=$(timeout 20 "$DIR/bin/Runner.Listener" --version 2>/dev/null)
  have=${have%%$'\n'*}
  if [[ $have =~ ^[0-9]{1,6}(\.[0-9]{1,6}){2}$ && $(printf '%s\n%s\n' "$VERSION" "$have" | sort -V | head -n 1) == "$VERSION" ]]; then
    log "runner $have preinstalled in $DIR (the pinned $VERSION or later): download skipped"
    return 0
  fi
  log "runner preinstalled in $DIR: ${have:-none found}, $VERSION or later needed: downloading $VERSION"
  return 1
}

install_runner() {
  local url tgz=$STATE/runner.tar.gz e=$STATE/err v=$DIR/.gpu-runner-version
  if [[ $PREINSTALLED == true ]] && preinstalled; then
    :
  elif [[ -f $v && -x $DIR/run.sh && $(<"$v") == "$VERSION" ]]; then
    log "runner $VERSION already installed in $DIR; download skipped"
  else
    url=$BASE/v$VERSION/actions-runner-linux-$ARCH-$VERSION.tar.gz
    log "downloading runner $VERSION ($ARCH) from ${url:0:200}"
    # -q: no ~/.curlrc; retries timeouts, refusals, 408/429/5xx; fails at once on other HTTP errors
    step curl -q -fsSL --retry 5 --retry-connrefused --connect-timeout 20 --max-time 900 -o "$tgz" "$url" 2>"$e" ||
      power_off "runner download failed (curl exit code $?): $(line1 "$e")"
    if ! printf '%s  %s\n' "$SHA" "$tgz" | sha256sum -c --strict --status; then
      url=$(sha256sum <"$tgz")
      power_off "runner checksum mismatch: expected $SHA, got ${url%% *}; refusing to install it"
    fi
    { mkdir -p -- "$DIR" && step tar -xzf "$tgz" -C "$DIR" --no-same-owner && echo "$VERSION" >"$v"; } 2>"$e" ||
      power_off "could not unpack the runner into $DIR: $(line1 "$e")"
    rm -f -- "$tgz"
    log "runner $VERSION installed in $DIR (sha256 verified)"
  fi
  chown -R -- "$USR:" "$DIR" 2>"$e" || power_off "could not give $DIR to $USR: $(line1 "$e")"
}

gpu_gate() {
  local o=$STATE/gpus end=$((SECONDS + WAIT)) why n=0 bad='' ok='' i name drv mem used temp ecc bus models='' driver='' cuda=''
  if ((GPUS == 0)); then
    log "GPU check: skipped (GR_EXPECTED_GPUS=0)"
    return 0
  fi
  while :; do # the driver may still be loading, or being built, at first boot
    if ! command -v nvidia-smi >/dev/null; then
      why="nvidia-smi not found"
    elif step timeout 60 nvidia-smi -L >"$o" 2>&1; then
      break
    else
      why="nvidia-smi -L failed: $(line1 "$o")"
    fi
    ((SECONDS < end)) || power_off "GPU check failed: $why (waited ${WAIT}s)"
    step sleep 1
  done
  # as in test/fixtures/nvidia-smi
  step timeout 60 nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,memory.used,temperature.gpu,ecc.errors.uncorrected.volatile.total,pci.bus_id --format=csv,noheader,nounits >"$o" 2>&1 ||
    power_off "GPU check failed: nvidia-smi query exit code $?: $(line1 "$o")"
  while IFS=, read -r i name _ drv mem used temp ecc bus; do
    [[ -n $i ]] || continue
    n=$((n + 1))
    log "GPU $i: $name, $mem MiB ($used used), $temp C, driver $drv, bus $bus, uncorrected ECC errors: $ecc"
    [[ $mem =~ ^[0-9]+$ ]] && ((10#$mem > 0)) || bad+="; GPU $i reports memory '$mem'"
    if [[ $ecc =~ ^[0-9]+$ ]]; then
      ((10#$ecc == 0)) || bad+="; GPU $i has $ecc uncorrected ECC error(s)"
    elif [[ $ecc != \[*\] && $ecc != N/A ]]; then # [N/A], [Not Supported]: no ECC counts (consumer cards, ECC off)
      bad+="; GPU $i reports ECC errors '$ecc'"
    fi
    ok+=", $name ($mem MiB)"
    [[ ", $models, " == *", $name, "* ]] || models+=", $name"
    driver=$drv # the read that ends the loop empties drv
  done < <(sed 's/ *, */,/g; s/ *$//' "$o")
  ((n == GPUS)) || bad+="; found $n GPU(s), expected $GPUS"
  [[ -z $bad ]] || power_off "GPU check failed: ${bad#; }"
  log "GPU check passed: $n GPU(s): ${ok#, }"
  # The CUDA version is only in the plain report's header. One line for the action's job summary (model last: it has
  # spaces), so a result can be traced to the hardware and driver it ran on; a failed header read is not a bad GPU.
  step timeout 60 nvidia-smi >"$o" 2>&1 && cuda=$(sed -n 's/.*CUDA Version: *\([^ |]*\).*/\1/p' "$o")
  log "gpu-facts: count=$n driver=${driver:-unknown} cuda=${cuda:-unknown} model=${models#, }"
}

pre_runner() {
  local f=$STATE/pre-runner
  [[ -n $PRE ]] || return 0
  printf %s "$PRE" | base64 -d >"$f" 2>/dev/null || power_off "pre-runner script failed: not valid base64"
  chmod 0700 -- "$f"
  log "pre-runner script: running as root"
  step prefixed "$f" "$STATE/pre-runner.log"
  set -- $?
  rm -f -- "$f"
  (($1 == 0)) || power_off "pre-runner script failed (exit code $1)"
  log "pre-runner script: succeeded"
}
# Its output goes to a file, relayed to the log (hence the console) line by line until the script itself exits; its
# exit code is returned. Not a pipe: a daemon the script starts inherits its stdout, and a pipe's reader waits for
# every holder, so the boot would wait for the daemon. A file it may keep: what it writes after the script exits
# stays there (kept, not removed, so that its size shows), unrelayed. Without a shebang, bash runs it.
prefixed() { # SCRIPT OUTPUT_FILE
  local pid fd l='' part='' alive
  umask 022
  : >"$2"
  exec {fd}<"$2"
  "$1" >>"$2" 2>&1 </dev/null &
  pid=$!
  while :; do
    kill -0 "$pid" 2>/dev/null
    alive=$? # asked before reading: all it wrote before exiting is read below
    while IFS= read -r -u "$fd" l; do
      log "pre-runner: $part$l"
      part='' l=''
    done
    part+=$l
    ((alive == 0)) || break
    sleep 0.5
  done
  [[ -z $part ]] || log "pre-runner: $part"
  wait "$pid"
}

# runuser, not sudo: no sudoers policy (SETENV, GR_RUNNER_SUDO=false). It keeps the environment, emptied but for
# PATH/locale/proxy; the runner reads --jitconfig from ACTIONS_RUNNER_INPUT_JITCONFIG: in no argv (ps), no file.
start_runner() {
  local n
  : >"$STATE/runner.log"
  (
    cd -- "$DIR" || exit 1
    umask 022
    while IFS= read -r n; do
      [[ $n =~ ^(PATH|LANG|LANGUAGE|LC_.*|TZ|(http|https|no)_proxy|(HTTP|HTTPS|NO)_PROXY)$ ]] || unset "$n"
    done < <(compgen -e)
    export ACTIONS_RUNNER_INPUT_JITCONFIG="$JIT"
    exec runuser -u "$USR" -- ./run.sh
  ) >>"$STATE/runner.log" 2>&1 </dev/null &
  RUNNER=$!
  unset JIT
  echo "$RUNNER" >"$STATE/runner.pid"
  exec {FD}<"$STATE/runner.log"
  log "runner started as $USR (pid $RUNNER)"
}
relay() { # the runner's output, to the log
  local l=''
  while IFS= read -r -u "$FD" l; do
    said "$PART$l"
    PART='' l=''
  done
  PART+=$l
}
said() {
  log "runner: $1"
  if [[ -z $JOB && $1 == *"Running job"* ]]; then
    JOB=1
    log "job taken: ${1##*Running job: }"
  fi
}
supervise() {
  local end=$((SECONDS + IDLE * UNIT))
  while kill -0 "$RUNNER" 2>/dev/null; do
    relay
    [[ -n $JOB ]] || ((SECONDS < end)) || power_off "idle timeout: no job within $IDLE minute(s) of the runner starting"
    step sleep 1
  done
  wait "$RUNNER"
  set -- $?
  relay
  [[ -z $PART ]] || said "$PART"
  if [[ -n $JOB ]]; then log "job done: runner exited with code $1"; else log "runner exited with code $1 without taking a job"; fi
  power_off "runner exited (exit code $1)"
}

main() {
  local n
  JIT=${GR_JIT_CONFIG-} # into a plain variable: no child inherits it, nor any GR_ variable
  unset GR_JIT_CONFIG
  for n in "${!GR_@}"; do export -n "${n?}"; done
  CONSOLE=${GR_CONSOLE:-/dev/console}
  trap 'power_off "boot script ended unexpectedly (exit code $?)"' EXIT
  trap 'power_off "boot script got a termination signal"' HUP INT TERM
  log "booting"
  mark boot-script-started
  STATE=$(mktemp -d "${TMPDIR:-/tmp}/gpu-runner.XXXXXXXX") || STATE=''
  arm_lifetime
  [[ -n $STATE ]] || power_off "could not create a private temporary directory"
  scrub
  settings
  ensure_user
  install_runner
  mark runner-installed
  gpu_gate
  mark gpu-checked
  pre_runner
  mark pre-runner-done
  start_runner
  mark runner-started
  supervise
}

main "$@"; exit "$?"
