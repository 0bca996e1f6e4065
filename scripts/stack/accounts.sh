# scripts/stack/accounts.sh: who runs what, and the run folder's owners and
# modes. Started as another user than root, everything runs as that user in
# a 0700 DIR. Started as root, each daemon runs as its own account, the way
# Debian runs them, so that one compromised piece does not get the others'
# data:
#   MariaDB      mysql      owns DIR/mysql (0700) and DIR/mysql.run
#   Redis        redis      owns DIR/redis (0700) and DIR/redis.run
#   the writer   svc        the service account: SUDO_USER, else the system
#   the pool     svc           user popup (made on first use); the pool's
#                              primary group is www-data's (its sockets are
#                              for nginx's workers) and the service's group
#                              is its supplementary one
#   nginx        www-data   the workers; the master stays root
# The sockets: DIR/mysql.run and DIR/redis.run are set-group-id folders of
# the service's group (2750), so the sockets the daemons make in them
# (DIR/mysql.sock and DIR/redis.sock lead there) belong to that group and
# only the pool and the writer reach them, also after a daemon restarts.
# The pool's sockets (popup.sock*, 0660) belong to www-data's group: only
# nginx's workers (and the pool) reach them.

# Who runs what (user and group names); the invoking user unless root.
svc_user=$(id -un) svc_group=$(id -gn)
db_user=$svc_user db_group=$svc_group
kv_user=$svc_user kv_group=$svc_group
web_user=$svc_user web_group=$svc_group

service_account() {
  is_root || return 0
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && id -u "$SUDO_USER" > /dev/null 2>&1; then
    svc_user=$SUDO_USER
  else
    svc_user=popup
    if ! id -u popup > /dev/null 2>&1; then
      command -v useradd > /dev/null || fail "useradd is missing: cannot create the system user popup"
      # Two stacks starting at once may both try: the loser finds the user.
      useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin popup 2> /dev/null || id -u popup > /dev/null 2>&1 ||
        fail "could not create the system user popup (useradd --system popup)"
      log "created the system user popup for the stack's services"
    fi
  fi
  [ "$(id -u "$svc_user")" -ne 0 ] || fail "the service account $svc_user is root"
  svc_group=$(id -gn "$svc_user")
  local who
  for who in mysql redis www-data; do
    id -u "$who" > /dev/null 2>&1 ||
      fail "the system user $who is missing: run scripts/deps.sh (mariadb-server, redis-server and nginx make mysql, redis and www-data)"
  done
  db_user=mysql db_group=$(id -gn mysql)
  kv_user=redis kv_group=$(id -gn redis)
  web_user=www-data web_group=$(id -gn www-data)
  command -v setpriv > /dev/null || fail "setpriv (util-linux) is not installed"
}

# drop_to ACCOUNT: sets the array drop to the command prefix that runs a
# program as ACCOUNT (db, kv, svc or pool); empty when not root. No
# supplementary groups but the pool's one (the service's group).
drop_to() {
  drop=()
  is_root || return 0
  case $1 in
    db) drop=(setpriv --reuid="$db_user" --regid="$db_group" --clear-groups --) ;;
    kv) drop=(setpriv --reuid="$kv_user" --regid="$kv_group" --clear-groups --) ;;
    svc) drop=(setpriv --reuid="$svc_user" --regid="$svc_group" --clear-groups --) ;;
    pool) drop=(setpriv --reuid="$svc_user" --regid="$web_group" --groups="$svc_group" --) ;;
    *) fail "no account $1" ;;
  esac
}

# owner_of ACCOUNT: "user:group" for chown.
owner_of() {
  case $1 in
    db) echo "$db_user:$db_group" ;;
    kv) echo "$kv_user:$kv_group" ;;
    svc|pool) echo "$svc_user:$svc_group" ;;
  esac
}

# give_to ACCOUNT FILE...: as root, FILE belongs to ACCOUNT (its data, logs
# it opens by name); no-op otherwise.
give_to() { local who=$1; shift; if is_root; then chown "$(owner_of "$who")" "$@"; fi; }

# share_with GROUP FILE...: as root, root-owned and readable by GROUP (0640,
# 0750 for folders): what a service reads but must not change, because root
# reads it too (popup.conf goes through popupd --check into nginx.conf,
# which nginx's root master loads). No-op otherwise.
share_with() {
  is_root || return 0
  local group=$1 f; shift
  chown "root:$group" "$@"
  for f in "$@"; do if [ -d "$f" ]; then chmod 750 "$f"; else chmod 640 "$f"; fi; done
}

# new_log NAME ACCOUNT: DIR/log/NAME exists, owned by ACCOUNT, for a service
# that opens its log by name (Redis, MariaDB) or whose output the dropped
# shell appends to it. log/ is root's, so the service can write its log but
# not swap it for a link that root would follow.
new_log() {
  local f=$dir/log/$1
  [ -f "$f" ] && [ ! -L "$f" ] || { rm -f "$f"; : > "$f"; }
  give_to "$2" "$f"
}

# The run folder. As root: DIR is root's, sticky, shared with the service's
# group (1771: the pool and the writer make their sockets and pid files in
# it but cannot rename or remove what root made; the other accounts only
# pass through to their own folders). Each daemon's data folder is its own
# (0700); log/ lets each reach the one log given to it.
prepare_dir() {
  mkdir -p "$dir"/{mysql,mysql.run/tmp,redis,redis.run,nginx,log,state,tmp}
  if ! is_root; then
    chmod 700 "$dir"
    chmod 700 "$dir/mysql.run" "$dir/redis.run"
    return 0
  fi
  chown "root:$svc_group" "$dir" && chmod 1771 "$dir"
  chown "root:$svc_group" "$dir/log" && chmod 751 "$dir/log"
  share_with "$web_group" "$dir/nginx"
  # A folder of an earlier stack that ran everything as one account goes
  # to each daemon's (chown -R does not follow links).
  chown -R "$db_user:$db_group" "$dir/mysql" "$dir/mysql.run/tmp"
  chown -R "$kv_user:$kv_group" "$dir/redis"
  chown -R "$svc_user:$svc_group" "$dir/state" "$dir/tmp"
  chmod 700 "$dir"/{mysql,redis,state,tmp} "$dir/mysql.run/tmp"
  # Not recursive: the sockets in them keep the service's group while
  # their daemons run.
  chown "$db_user:$svc_group" "$dir/mysql.run"
  chown "$kv_user:$svc_group" "$dir/redis.run"
  chmod 2750 "$dir/mysql.run" "$dir/redis.run"
  local f
  for f in "$dir"/{writer,popupd}.pid; do [ ! -e "$f" ] || give_to svc "$f"; done
  # What an earlier start wrote as root's 0600 (it may be kept when some
  # pieces still run).
  for f in "$dir/popup.conf" "$dir/popup.local.conf"; do [ ! -e "$f" ] || share_with "$svc_group" "$f"; done
  [ ! -e "$dir/redis.conf" ] || share_with "$kv_group" "$dir/redis.conf"
  [ ! -e "$dir/mariadb.cnf" ] || share_with "$db_group" "$dir/mariadb.cnf"
  # Each account must reach DIR (every folder above it) and what it runs.
  local drop
  drop_to pool
  "${drop[@]}" test -w "$dir" -a -x "$dir" ||
    fail "the service account $svc_user cannot reach $dir: a folder above it is closed to it; use a DIR it can reach"
  "${drop[@]}" test -x "$bin/popupd" ||
    fail "the service account $svc_user cannot run $bin/popupd; put the checkout where $svc_user can read it (or sudo from a user who can)"
  setpriv --reuid="$web_user" --regid="$web_group" --clear-groups -- test -r "$top/web" -a -x "$top/web" ||
    fail "nginx's workers ($web_user) cannot read $top/web; put the checkout where $web_user can read it"
}
