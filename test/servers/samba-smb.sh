#!/usr/bin/env bash
# Real SMB server (Debian's Samba 4.17 smbd) on 127.0.0.1, one share, one user with a password; no systemd,
# no nmbd/winbindd, every file (config, passdb, locks, logs, share folder) under the state dir.
#
#   samba-smb.sh start DIR   -> one JSON line: {"host":"127.0.0.1","port":..,"share":"backup","username":..,"password":..,"path":..}
#   samba-smb.sh stop  DIR   -> stops the smbd it started (PID file in DIR/run), keeps DIR
#   samba-smb.sh status DIR  -> the JSON line again if smbd answers, exit 1 otherwise
#   samba-smb.sh mount DIR MNT -> mounts the share as a client would (kernel cifs if the kernel has it, else the
#                                 FUSE client smbnetfs) and prints {"mountpoint":..,"via":"cifs"|"smbnetfs"}
#   samba-smb.sh umount DIR    -> unmounts what mount mounted (stop does it too)
#   (On the Firecracker kernel of this workplace there is no cifs: "mount error(19): No such device";
#    smbnetfs with big_writes does ~190 MB/s writes there; smbnetfs only reaches port 445, so an instance that
#    needs mounting must be the one on 445.)
#
# Env: SMB_PORT (default 445 when free, else a free port; smbclient -p, mount.cifs port=, the npm clients
#      tested take a port option; smbnetfs reaches 445 only), SMB_USER (default smbci: a Unix user is created if missing, smbd needs one),
#      SMB_PASSWORD (default: random), SMB_SHARE (default backup), SMB_MIN_PROTOCOL (default SMB2_10),
#      SMB_ALLOW_NTLMV1=1 (ntlm auth = ntlmv1-permitted: needed by npm clients that only do NTLMv1),
#      SMB_SYNC_IO=1 (aio off: no STATUS_PENDING interim replies, which some npm clients cannot parse),
#      SMBNETFS_OPTS (extra smbnetfs -o options, e.g. smb_timeout=120000: smbnetfs's own 20 s reply timeout
#      turns a server pause longer than that into EIO, where kernel cifs and Windows wait; Sluice's tests set it).
# (Sluice's copy of ../shared/recipes/samba-smb.sh; the only change is SMBNETFS_OPTS.)
# Measured (2 cores): start 2-4 s (apt install of samba+smbclient first time: ~15 s), idle RSS ~30 MiB
#      (3 smbd processes: 15+9+6 MiB); each client connection forks one more smbd (~20 MiB).
# npm clients (Node 20): @marsaud/smb2 and v9u-smb2 need `node --openssl-legacy-provider` (MD4) and SMB_SYNC_IO=1;
#      @marsaud/smb2 and @awo00/smb2 also need SMB_ALLOW_NTLMV1=1. With aio on (Samba's default) @awo00/smb2
#      reads back WRONG BYTES silently; marsaud/v9u fail with STATUS_PENDING.
set -euo pipefail

cmd=${1:-}; DIR=${2:-${SMB_DIR:-}}
[[ -n $cmd && -n $DIR ]] || { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
CONF=$DIR/smb.conf
trap 'echo "$0: failed at line $LINENO: $BASH_COMMAND (logs: $DIR/log)" >&2' ERR

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
EOF
}
alive() { [[ -r /proc/$1/stat ]] && ! awk '{exit ($3=="Z")?0:1}' "/proc/$1/stat"; }

need_pkgs() {
  local missing=()
  for p in samba smbclient; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} ..." >&2
    # the Debian package's postinst tries to start smbd/nmbd through systemd/init scripts; harmless without systemd
    (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }) >&2
  fi
}

pidfile() { echo "$DIR/run/smbd.pid"; }
smb_pid() { [[ -f $(pidfile) ]] && cat "$(pidfile)"; }
up() {
  [[ -f $DIR/client.json ]] || return 1
  local port; port=$(cat "$DIR/port")
  timeout 10 smbclient -s "$CONF" -p "$port" -U "$(cat "$DIR/user")%$(cat "$DIR/password")" -L 127.0.0.1 >/dev/null 2>&1
}

do_mount() {
  local mnt=${1:?mount point}; mkdir -p "$mnt"; mnt=$(cd "$mnt" && pwd)
  up || { echo "smbd is not running for $DIR" >&2; exit 1; }
  local user pass port share; user=$(cat "$DIR/user"); pass=$(cat "$DIR/password"); port=$(cat "$DIR/port"); share=$(cat "$DIR/share")
  if grep -qw cifs /proc/filesystems || modprobe cifs 2>/dev/null; then
    dpkg-query -W -f='${Status}' cifs-utils 2>/dev/null | grep -q 'install ok installed' || apt-get install -y -q --no-install-recommends cifs-utils >&2
    mount -t cifs "//127.0.0.1/$share" "$mnt" -o "username=$user,password=$pass,port=$port,vers=3.0,uid=$(id -u),gid=$(id -g)"
    echo "$mnt" > "$DIR/mount.cifs"
    printf '{"mountpoint":"%s","via":"cifs"}\n' "$mnt"
  else
    local missing=(); for p in smbnetfs fuse3; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
    ((${#missing[@]} == 0)) || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    local h=$DIR/smbnetfs-home; mkdir -p "$h/.smb"
    printf '[global]\n  client min protocol = SMB2\n  smb ports = %s\n' "$port" > "$h/.smb/smb.conf"
    printf 'auth "127.0.0.1" "%s" "%s"\nsmb_query_browsers false\n' "$user" "$pass" > "$h/.smb/smbnetfs.conf"
    chmod 600 "$h/.smb/smbnetfs.conf"
    HOME=$h smbnetfs "$mnt" -o "config=$h/.smb/smbnetfs.conf,big_writes,max_write=131072${SMBNETFS_OPTS:+,$SMBNETFS_OPTS}" >>"$DIR/log/smbnetfs.out" 2>&1
    for _ in $(seq 1 50); do [[ -d $mnt/127.0.0.1/$share ]] && break; sleep 0.1; done
    echo "$mnt" > "$DIR/mount.smbnetfs"
    printf '{"mountpoint":"%s/127.0.0.1/%s","via":"smbnetfs"}\n' "$mnt" "$share"
  fi
}

do_umount() {
  local f m
  for f in "$DIR/mount.cifs" "$DIR/mount.smbnetfs"; do
    [[ -f $f ]] || continue; m=$(cat "$f")
    if mountpoint -q "$m"; then
      if [[ $f == *smbnetfs ]]; then fusermount -u "$m" 2>/dev/null || umount -l "$m"; else umount "$m" || umount -l "$m"; fi
    fi
    rm -f "$f"
  done
}

stop() {
  do_umount
  local pid; pid=$(smb_pid 2>/dev/null || true)
  if [[ -n $pid ]] && alive "$pid" && grep -qaF "$CONF" "/proc/$pid/cmdline"; then
    kill "$pid" 2>/dev/null || true       # the parent smbd takes its children down with it
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  # samba-dcerpcd (started on demand by smbd in 4.17) normally exits with smbd; make sure
  local f p
  for f in "$DIR/run/samba-dcerpcd.pid"; do
    [[ -f $f ]] || continue; p=$(cat "$f")
    if [[ -n $p ]] && alive "$p" && grep -qaF "$CONF" "/proc/$p/cmdline"; then kill "$p" 2>/dev/null || true; fi
  done
  rm -f "$(pidfile)"
}

start() {
  need_pkgs
  local pid; pid=$(smb_pid 2>/dev/null || true)
  if [[ -n $pid ]] && alive "$pid" && up; then cat "$DIR/client.json"; return 0; fi
  stop
  local user=${SMB_USER:-smbci} share=${SMB_SHARE:-backup} pass port
  if [[ -f $DIR/client.json ]]; then
    user=$(cat "$DIR/user"); pass=$(cat "$DIR/password"); port=$(cat "$DIR/port"); share=$(cat "$DIR/share")
    port_free "$port" || { echo "port $port is taken; remove $DIR/client.json to pick another" >&2; exit 1; }
  else
    pass=${SMB_PASSWORD:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
    if [[ -n ${SMB_PORT:-} ]]; then port=$SMB_PORT; elif port_free 445; then port=445; else port=$(free_port); fi
  fi
  mkdir -p "$DIR"/{run,lock,state,cache,private,log,ncalrpc,"$share"}
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  chown "$user" "$DIR/$share"
  cat > "$CONF" <<EOF
[global]
  server role = standalone server
  workgroup = WORKGROUP
  netbios name = SLUICECI
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = $port
  disable netbios = yes
  server min protocol = ${SMB_MIN_PROTOCOL:-SMB2_10}
  passdb backend = tdbsam:$DIR/private/passdb.tdb
  private dir = $DIR/private
  lock directory = $DIR/lock
  state directory = $DIR/state
  cache directory = $DIR/cache
  pid directory = $DIR/run
  ncalrpc dir = $DIR/ncalrpc
  binddns dir = $DIR/private
  log file = $DIR/log/log.%m
  max log size = 10000
  log level = 1
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  restrict anonymous = 2
  usershare path =
  rpc_server:spoolss = disabled
  rpc_daemon:spoolssd = disabled
  ntlm auth = $([[ ${SMB_ALLOW_NTLMV1:-0} == 1 ]] && echo ntlmv1-permitted || echo ntlmv2-only)
[$share]
  path = $DIR/$share
  read only = no
  valid users = $user
  create mask = 0644
  directory mask = 0755
$([[ ${SMB_SYNC_IO:-0} == 1 ]] && printf '  aio read size = 0\n  aio write size = 0\n')
EOF
  # password into the private tdbsam of this DIR (nothing in /var/lib/samba)
  printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$CONF" -s -a "$user" >/dev/null 2>>"$DIR/log/smbpasswd.out"
  echo "$user" > "$DIR/user"; echo "$pass" > "$DIR/password"; echo "$port" > "$DIR/port"; echo "$share" > "$DIR/share"
  smbd -D -s "$CONF" >>"$DIR/log/smbd.out" 2>&1
  printf '{"kind":"smb","server":"samba-%s","host":"127.0.0.1","port":%s,"share":"%s","unc":"//127.0.0.1/%s","username":"%s","password":"%s","domain":"WORKGROUP","path":"%s"}\n' \
    "$(smbd --version | awk '{print $2}')" "$port" "$share" "$share" "$user" "$pass" "$DIR/$share" > "$DIR/client.json"
  for _ in $(seq 1 100); do up && break; sleep 0.1; done
  up || { echo "smbd did not answer on 127.0.0.1:$port; see $DIR/log" >&2; exit 1; }
  cat "$DIR/client.json"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  status) up && cat "$DIR/client.json" ;;
  mount) do_mount "${3:-}" ;;
  umount) do_umount ;;
  *) echo "usage: $0 start|stop|status|mount|umount DIR [MNT]" >&2; exit 2 ;;
esac
