# scripts/stack/common.sh: what every piece of scripts/stack.sh uses:
# logging and failure, templates, and the stack's processes (pid files,
# starting in a session of its own, waiting, stopping). Sourced by
# scripts/stack.sh, which sets dir, top and the settings first.

log() { echo "stack: $*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# fail MESSAGE [LOG]: report, show the end of LOG and exit 1; once start has
# begun to start processes, stop the stack first (a failed start leaves
# nothing running; a refused setting leaves a running stack alone).
starting=0
fail() {
  trap - ERR INT TERM
  echo "stack: $1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then
    echo "stack: last lines of $2:" >&2
    tail -n 30 "$2" >&2
  fi
  if [ $starting -eq 1 ]; then
    echo "stack: stopping what runs in $dir" >&2
    stop_stack >&2 || true
  fi
  exit 1
}

# render TEMPLATE OUT NAME=VALUE...: OUT is TEMPLATE with every @NAME@
# replaced by VALUE (taken literally), written under a new name and then
# renamed over OUT. A placeholder left outside comments is refused: the
# template and the script disagree.
render() {
  local in=$1 out=$2 text kv left; shift 2
  text=$(< "$in") || fail "cannot read $in"
  for kv in "$@"; do text=${text//"@${kv%%=*}@"/"${kv#*=}"}; done
  left=$(grep -v '^[[:space:]]*#' <<< "$text" | grep -o '@[A-Z_]*@' | head -n 1 || true)
  [ -z "$left" ] || fail "$in has a placeholder that scripts/stack.sh does not fill: $left"
  rm -f "$out.tmp"
  printf '%s\n' "$text" > "$out.tmp" && mv -f "$out.tmp" "$out"
}

# port_taken HOST PORT: 0 when something accepts connections there.
port_taken() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# ---------------------------------------------------------------- processes

# ours PID: 0 when PID runs one of the stack's programs with DIR on its
# command line (fcgi-floor, started by bench/ with no arguments naming DIR,
# is recognised by name). A zombie has an empty command line: not ours.
ours() {
  local comm cmdline
  comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
  case $comm in
    fcgi-floor) return 0 ;;
    mariadbd|redis-server|popupd|popup-writer|nginx|spawn-fcgi) ;;
    *) return 1 ;;
  esac
  cmdline=$(tr '\0' ' ' 2> /dev/null < "/proc/$1/cmdline") || return 1
  [[ $cmdline == *"$dir/"* ]]
}

# live_pids PIDFILE: the pids listed in it (spawn-fcgi -F writes one a line)
# that are still ours.
live_pids() {
  local p
  [ -s "$1" ] || return 0
  for p in $(grep -o '[0-9]\+' "$1"); do
    if ours "$p"; then echo "$p"; fi
  done
  return 0
}

running() { [ -n "$(live_pids "$dir/$1")" ]; }

wait_gone() {  # wait_gone SECONDS PID...: 0 once none of them is ours
  local deadline=$((SECONDS + $1)) p any; shift
  while :; do
    any=0
    for p in "$@"; do if ours "$p"; then any=1; fi; done
    [ $any -eq 1 ] || return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# kill_groups SIGNAL PID...: each PID's process group, if PID leads one. A
# group id stays reserved while the group has members, so -PID can only be
# the group that PID made (its session from setsid or nginx's daemon()).
kill_groups() {
  local sig=$1 p; shift
  for p in "$@"; do kill -s "$sig" -- "-$p" 2>/dev/null || true; done
}

# stop_piece NAME PIDFILE SIGNAL SECONDS: signal, wait, then SIGKILL the
# process groups; also kill what a dead leader left in its group.
stop_piece() {
  local name=$1 file=$dir/$2 sig=$3 secs=$4 pids
  mapfile -t pids < <(live_pids "$file")
  if [ ${#pids[@]} -gt 0 ]; then
    kill -s "$sig" "${pids[@]}" 2>/dev/null || true
    if ! wait_gone "$secs" "${pids[@]}"; then
      log "$name did not stop within ${secs}s; sending SIGKILL"
      kill_groups KILL "${pids[@]}"
      kill -s KILL "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || log "$name: ${pids[*]} still running after SIGKILL"
    fi
    kill_groups KILL "${pids[@]}"
    stopped+=("$name")
  fi
  rm -f "$file"
}

# Processes of this stack that no pid file names (a supervisor's orphaned
# worker, a process a test restarted): found by their command line.
sweep_strays() {
  local p pattern strays=()
  pattern=$(printf '%s/' "$dir" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  for p in $(pgrep -f -- "$pattern" || true); do
    if [ "$p" != $$ ] && ours "$p"; then strays+=("$p"); fi
  done
  [ ${#strays[@]} -gt 0 ] || return 0
  log "stopping strays: ${strays[*]}"
  kill -s TERM "${strays[@]}" 2>/dev/null || true
  wait_gone 10 "${strays[@]}" || kill -s KILL "${strays[@]}" 2>/dev/null || true
  kill_groups KILL "${strays[@]}"
  wait_gone 5 "${strays[@]}" || true
  stopped+=(strays)
}

# launch ACCOUNT PIDFILE LOG CMD...: CMD as ACCOUNT (accounts.sh: db, kv,
# svc or pool) in a session of its own with stdin from /dev/null and output
# appended to LOG; its pid goes to PIDFILE before the exec (so it is right
# whether or not setsid has to fork). Returns once the program runs, 1 when
# it did not start.
# The pid is written in place, under the file's flock, which is let go just
# before the exec: a popupd that locks the file itself (pid_file) then takes
# the same file and writes the same pid, and a file that a running popupd
# holds is neither overwritten nor replaced (renaming a new file over it
# would leave that popupd's lock on a file nobody can find).
launch() {
  local account=$1 pidfile=$2 logfile=$3 i pid drop; shift 3
  # As root the shell itself runs as the account, so the pid file and the
  # log are the account's and the program never is root.
  drop_to "$account"
  new_log "${logfile##*/}" "$account"
  [ ! -e "$pidfile" ] || give_to "$account" "$pidfile"
  setsid "${drop[@]}" bash -c 'exec >> "$1" 2>&1 || exit 1
    exec 8>> "$0" || exit 1
    flock -n 8 || { echo "stack: $0 is locked by a running process" >&2; exit 1; }
    echo $$ > "$0" && shift && exec "$@" 8>&-' "$pidfile" "$logfile" "$@" \
    < /dev/null 9>&- &
  for ((i = 0; i < 50; i++)); do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && ours "$pid"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# write_behind_sched: the words that start MariaDB or the writer under
# WRITE_BEHIND_SCHED (scripts/stack.sh): `chrt --batch 0` for batch (any
# user may choose SCHED_BATCH; its children and threads inherit it), none
# for other.
# shellcheck disable=SC2034  # sched: the caller's local
write_behind_sched() {
  sched=()
  [ "$WRITE_BEHIND_SCHED" != batch ] || sched=(chrt --batch 0)
}

# wait_up SECONDS PIDFILE CMD...: 0 once CMD succeeds; 1 when time is up or
# the processes of PIDFILE are gone (no point waiting for a dead server).
wait_up() {
  local deadline=$((SECONDS + $1)) pidfile=$2; shift 2
  while :; do
    "$@" > /dev/null 2>&1 && return 0
    if ! running "$pidfile"; then
      sleep 0.3
      "$@" > /dev/null 2>&1 && return 0
      return 1
    fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# link_run NAME: DIR/NAME.sock and DIR/NAME.pid lead into DIR/NAME.run/,
# where the daemon makes them (accounts.sh: its own folder, so it needs no
# write access to DIR); clients and pid checks use the names in DIR.
link_run() {
  ln -sfn "$1.run/$1.sock" "$dir/$1.sock"
  ln -sfn "$1.run/$1.pid" "$dir/$1.pid"
}
