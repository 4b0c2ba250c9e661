#!/usr/bin/env bash
# xfer end-to-end perf harness: builds the distribution, generates data on tmpfs, starts an xfer-agent, a private
# sshd and an iperf3 server on 127.0.0.1, runs xfer, rsync, scp and iperf3 side by side on the same data, and
# writes a report (Markdown tables, SVG charts, results.json, HdrHistogram files). See perf/README.md.
#
# Usage: perf/harness/run.sh [options]
#   --quick            small run: 256 MiB files, 2,000 small files, 64 MiB WAN file, 1 repeat, no warm-up
#   --out DIR          report directory (default: perf-report/ at the repository root; its contents are replaced)
#   --repeats N        measured runs per scenario (default 3; --quick 1); the report shows the median
#   --warmups N        unmeasured runs before each scenario (default 1; --quick 0)
#                      (the client daemon's scenarios come after 5 untimed sends through it; --quick 1)
#   --size SIZE        size of each large file (default 2g; --quick 256m)
#   --files N          small files in the tree (default 20000; --quick 2000), 4 KiB each (--file-size)
#   --file-size SIZE   size of each small file (default 4k)
#   --wan-size SIZE    compressible file for the rate-limited run (default 256m; --quick 64m)
#   --wan-rate RATE    tbf rate on both ends of the veth pair (default 200mbit)
#   --iperf-seconds N  iperf3 duration (default 5; --quick 3)
#   --only REGEX       run only scenarios whose id matches (bash regex), e.g. 'xfer-large-random|rsync'
#   --no-wan           skip the namespace/tbf scenarios
#   --lfn-rtt MS       round trip of the long fat link (default 60): two namespaces joined through a user-space
#                      delay line (perf/harness/delay_line.c, or .py without a C compiler) between TUN devices
#   --lfn-rate RATE    tbf rate of the long fat link, each way (default 500mbit)
#   --lfn-loss FRAC    fraction of packets the delay line drops, each way (default 0.0001)
#   --lfn-loss-burst N mean length in packets of a run of drops (default 1: each packet dropped on its own; more
#                      gives bursts, as a congested router or a flapping path does, at the same fraction)
#   --lfn-size SIZE    incompressible file sent over it (default 512m; --quick 64m)
#   --no-lfn           skip the long-fat-link scenarios
#   --disk-dir DIR     where the tree-on-disk scenarios write (default: a new directory in /var/tmp); they are
#                      skipped with a note when it is on tmpfs. Durable writes (fsync) cost real time only there
#   --no-disk          skip the tree-on-disk scenarios
#   --no-build         use the distribution already built in tools/target
#   --dist DIR         use this distribution directory (has bin/xfer, bin/xfer-agent); implies --no-build
#   --no-install       do not apt-get install missing tools; fail instead
#   --run-timeout S    kill a single run after S seconds (default 600)
#   -h, --help         this text
#
# Environment:
#   XFER_AGENT_JAVA_OPTS    JVM options of the agent (replace the launcher's default -Xmx256m
#                           -XX:MaxDirectMemorySize=512m, so repeat those when adding flags)
#   XFER_JAVA_OPTS          JVM options of the xfer client
#   XFER_CDS_DIR            where the client keeps its class-sharing archive (default: a new directory in the
#                           run's work directory, built during the warm-up; set it empty to run without one)
#   XFER_PERF_NO_NEW_FLAGS  1: drop the xfer flags this build does not know (--streams, --compress,
#                           --histogram-dir) instead of letting the runs fail with exit code 2
#   XFER_PERF_MVN_ARGS      extra Maven arguments for the build, e.g. -o
#
# Needs root for: installing packages, mounting the tmpfs (else /dev/shm is used), the network namespaces (else
# the WAN scenarios are skipped with a note), resetting the agent's peak RSS between runs.
set -euo pipefail

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HARNESS_DIR/../.." && pwd -P)
ARGS="$*"

QUICK=0
OUT=""
REPEATS=""
WARMUPS=""
SIZE=""
TREE_FILES=""
TREE_FILE_SIZE=4k
WAN_SIZE=""
WAN_RATE=200mbit
IPERF_SECONDS=""
ONLY=""
WAN=1
LFN=1
LFN_RTT_MS=60
LFN_RATE=500mbit
LFN_LOSS=0.0001
LFN_LOSS_BURST=1
LFN_SIZE=""
BUILD=1
DIST=""
INSTALL=1
RUN_TIMEOUT=600
DISK=1
DISK_DIR=""
DISK_CREATED=0
DISK_DST=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
# fd 8 is the harness's stderr, so that messages get out even from commands whose output is redirected.
exec 8>&2
log() { printf '[perf %s] %s\n' "$(date +%H:%M:%S)" "$*" >&8; }
die() { log "error: $*"; exit 1; }
need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --out) need_arg "$@"; OUT=$2; shift ;;
    --repeats) need_arg "$@"; REPEATS=$2; shift ;;
    --warmups) need_arg "$@"; WARMUPS=$2; shift ;;
    --size) need_arg "$@"; SIZE=$2; shift ;;
    --files) need_arg "$@"; TREE_FILES=$2; shift ;;
    --file-size) need_arg "$@"; TREE_FILE_SIZE=$2; shift ;;
    --wan-size) need_arg "$@"; WAN_SIZE=$2; shift ;;
    --wan-rate) need_arg "$@"; WAN_RATE=$2; shift ;;
    --iperf-seconds) need_arg "$@"; IPERF_SECONDS=$2; shift ;;
    --only) need_arg "$@"; ONLY=$2; shift ;;
    --no-wan) WAN=0 ;;
    --lfn-rtt) need_arg "$@"; LFN_RTT_MS=$2; shift ;;
    --lfn-rate) need_arg "$@"; LFN_RATE=$2; shift ;;
    --lfn-loss) need_arg "$@"; LFN_LOSS=$2; shift ;;
    --lfn-loss-burst) need_arg "$@"; LFN_LOSS_BURST=$2; shift ;;
    --lfn-size) need_arg "$@"; LFN_SIZE=$2; shift ;;
    --no-lfn) LFN=0 ;;
    --disk-dir) need_arg "$@"; DISK_DIR=$2; shift ;;
    --no-disk) DISK=0 ;;
    --no-build) BUILD=0 ;;
    --dist) need_arg "$@"; DIST=$2; BUILD=0; shift ;;
    --no-install) INSTALL=0 ;;
    --run-timeout) need_arg "$@"; RUN_TIMEOUT=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  : "${DAEMON_WARMUPS:=1}"
  : "${REPEATS:=1}" "${WARMUPS:=0}" "${SIZE:=256m}" "${TREE_FILES:=2000}" "${WAN_SIZE:=64m}" "${IPERF_SECONDS:=3}"
  : "${LFN_SIZE:=64m}"
else
  : "${DAEMON_WARMUPS:=5}"
  : "${REPEATS:=3}" "${WARMUPS:=1}" "${SIZE:=2g}" "${TREE_FILES:=20000}" "${WAN_SIZE:=256m}" "${IPERF_SECONDS:=5}"
  : "${LFN_SIZE:=512m}"
fi
[[ $LFN_RTT_MS =~ ^[0-9]+$ ]] && [ "$LFN_RTT_MS" -ge 1 ] || die "--lfn-rtt must be a whole number of ms >= 1"
[[ $LFN_LOSS =~ ^0(\.[0-9]+)?$ ]] || die "--lfn-loss must be a fraction in [0, 1), e.g. 0.0001"
[[ $LFN_LOSS_BURST =~ ^[1-9][0-9]*(\.[0-9]+)?$ ]] || die "--lfn-loss-burst must be a number of packets >= 1, e.g. 4"
: "${OUT:=$REPO/perf-report}"
for n in REPEATS WARMUPS TREE_FILES IPERF_SECONDS RUN_TIMEOUT; do
  [[ ${!n} =~ ^[0-9]+$ ]] || die "--$(tr '[:upper:]_' '[:lower:]-' <<<"$n") must be a number, got '${!n}'"
done
[ "$REPEATS" -ge 1 ] || die "--repeats must be at least 1"

to_bytes() {
  local v=${1,,} m=1
  case "$v" in *k) m=1024 ;; *m) m=$((1024 ** 2)) ;; *g) m=$((1024 ** 3)) ;; *t) m=$((1024 ** 4)) ;; esac
  v=${v%[kmgt]}
  [[ $v =~ ^[0-9]+$ ]] || die "not a size: '$1' (use e.g. 256m, 2g)"
  echo $((v * m))
}
SIZE_B=$(to_bytes "$SIZE")
WAN_SIZE_B=$(to_bytes "$WAN_SIZE")
LFN_SIZE_B=$(to_bytes "$LFN_SIZE")
TREE_FILE_B=$(to_bytes "$TREE_FILE_SIZE")

ALL_IDS=(iperf3-loopback-p1 iperf3-loopback-p4)
for ds in large-random large-text tree; do ALL_IDS+=("rsync-$ds" "scp-$ds"); done
for c in none auto; do for s in 1 2 4 8; do ALL_IDS+=("xfer-large-random-s$s-$c"); done; done
ALL_IDS+=(xfer-large-text-s4-none xfer-large-text-s4-auto xfer-tree-s1 xfer-tree-s4 xfer-tree-daemon-s1
  xfer-tree-daemon-s4 xfer-large-random-s4-plaintext)
ALL_IDS+=(xfer-heap-random-s4-none xfer-heap-random-s4-plaintext xfer-pull-large-random-s4-none
  xfer-pull-heap-random-s4-none)
AGENT_HEAP_IDS=(xfer-agent-heap-push-s4-none xfer-agent-heap-push-eighth-s4-none xfer-agent-heap-pull-s4-none
  xfer-agent-heap-pull-eighth-s4-none)
ALL_IDS+=("${AGENT_HEAP_IDS[@]}")
[ "$DISK" = 1 ] && ALL_IDS+=(rsync-tree-disk rsync-fsync-tree-disk xfer-tree-disk-s1 xfer-tree-disk-s4)
[ "$WAN" = 1 ] && ALL_IDS+=(wan-iperf3-p1 wan-xfer-text-s4-none wan-xfer-text-s4-auto)
[ "$LFN" = 1 ] && ALL_IDS+=(lfn-iperf3-p1 lfn-iperf3-p4 rsync-lfn-random xfer-lfn-random-s1-none xfer-lfn-random-s4-none
  xfer-lfn-random-s8-none)
wanted() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }
if [ -n "$ONLY" ]; then
  matched=0
  for id in "${ALL_IDS[@]}"; do wanted "$id" && matched=1; done
  [ "$matched" = 1 ] || die "no scenario id matches --only '$ONLY'; ids: ${ALL_IDS[*]}"
fi

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
NOTES=()
note() { NOTES+=("$*"); log "note: $*"; }

# ------------------------------------------------------------------------------------------------ single instance
LOCK=/tmp/xferperf.lock
exec 9>"$LOCK"
flock -n 9 || die "another perf harness run holds $LOCK"

# ------------------------------------------------------------------------------------------------ cleanup at exit
WORK=""
DATA=""
DATA_MOUNTED=0
DATA_SHM=0
PIDS=()
declare -A SERVER_NAMES=() SERVER_LOGS=()
REPORT_WRITTEN=0
CURRENT_PID=""
RAW_TMP=""
WAN_UP=0
LFN_UP=0
CREATED_RUN_SSHD=0
POLICY_RC_D=0

# kill_tree PID: PID and all its descendants (a client under time and timeout, with ssh children).
kill_tree() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" 2>/dev/null); do kill_tree "$child"; done
  kill "$pid" 2>/dev/null || true
}

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

wan_down() {
  ip netns del xferperf-a 2>/dev/null || true
  ip netns del xferperf-b 2>/dev/null || true
  ip link del xferperf-va 2>/dev/null || true
}

lfn_down() {
  ip netns del xferperf-la 2>/dev/null || true
  ip netns del xferperf-lb 2>/dev/null || true
  ip link del xferperf-ta 2>/dev/null || true
  ip link del xferperf-tb 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local pid
  if [ -n "$CURRENT_PID" ]; then kill_tree "$CURRENT_PID"; wait "$CURRENT_PID" 2>/dev/null; fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  [ "$WAN_UP" = 1 ] && wan_down
  [ "$LFN_UP" = 1 ] && lfn_down
  if [ "$REPORT_WRITTEN" = 0 ] && [ -n "$RAW_TMP" ] && [ -d "$RAW_TMP" ]; then
    # Keep the logs of a run that did not get to its report.
    mkdir -p "$OUT" && rm -rf "$OUT/raw" && cp -r "$RAW_TMP" "$OUT/raw" && log "logs of this run kept in $OUT/raw"
  fi
  if [ "$DATA_MOUNTED" = 1 ]; then
    umount "$DATA" 2>/dev/null || umount -l "$DATA" 2>/dev/null || log "warning: could not unmount $DATA"
  fi
  [ -n "$WORK" ] && rm -rf "$WORK"
  [ -n "$DISK_DST" ] && rm -rf "$DISK_DST"
  [ "$DISK_CREATED" = 1 ] && rmdir "$DISK_DIR" 2>/dev/null
  [ "$DATA_SHM" = 1 ] && rm -rf "$DATA"
  [ "$POLICY_RC_D" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$CREATED_RUN_SSHD" = 1 ] && rmdir /run/sshd 2>/dev/null
  [ "$rc" = 0 ] || log "exit status $rc; processes stopped, namespaces and tmpfs removed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls "$@" until it succeeds, at most LIMIT seconds.
wait_for() {
  local what=$1 limit=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

# ------------------------------------------------------------------------------------------------ 1. tools, build
install_tools() {
  local missing=() pkgs=()
  command -v iperf3 >/dev/null || { missing+=(iperf3); pkgs+=(iperf3); }
  [ -x /usr/sbin/sshd ] || { missing+=(sshd); pkgs+=(openssh-server); }
  command -v rsync >/dev/null || { missing+=(rsync); pkgs+=(rsync); }
  { command -v ssh >/dev/null && command -v scp >/dev/null && command -v ssh-keygen >/dev/null; } ||
    { missing+=(ssh); pkgs+=(openssh-client); }
  command -v python3 >/dev/null || { missing+=(python3); pkgs+=(python3); }
  [ -x /usr/bin/time ] || { missing+=(/usr/bin/time); pkgs+=(time); }
  command -v ip >/dev/null && command -v tc >/dev/null || { missing+=(ip/tc); pkgs+=(iproute2); }
  command -v java >/dev/null || [ -n "${JAVA_HOME:-}" ] || die "no java on the PATH and no JAVA_HOME: install a JDK 17+"
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$INSTALL" = 1 ] || die "missing tools: ${missing[*]} (packages: ${pkgs[*]}); install them or drop --no-install"
  [ "$IS_ROOT" = 1 ] || die "missing tools: ${missing[*]}; run as root to install them, or: apt-get install ${pkgs[*]}"
  log "installing ${pkgs[*]} (missing: ${missing[*]})"
  # Keep package scripts from starting a system sshd or iperf3 daemon.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && POLICY_RC_D=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q iperf3 openssh-server rsync openssh-client python3 time \
    iproute2 >/dev/null || die "apt-get install failed"
  if [ "$POLICY_RC_D" = 1 ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_D=0; fi
}
install_tools

if [ "$BUILD" = 1 ]; then
  command -v mvn >/dev/null || die "mvn not found; install Maven or pass --dist DIR"
  log "building: mvn -B -q package -DskipTests ${XFER_PERF_MVN_ARGS:-}"
  # shellcheck disable=SC2086
  (cd "$REPO" && mvn -B -q package -DskipTests ${XFER_PERF_MVN_ARGS:-}) || die "build failed"
fi
if [ -z "$DIST" ]; then
  for d in "$REPO"/tools/target/xfer-*/xfer-*/; do [ -x "$d/bin/xfer" ] && DIST=${d%/}; done
fi
[ -n "$DIST" ] && [ -x "$DIST/bin/xfer" ] && [ -x "$DIST/bin/xfer-agent" ] ||
  die "no distribution with bin/xfer and bin/xfer-agent (looked in tools/target/xfer-*/xfer-*/); build first"
DIST=$(cd "$DIST" && pwd -P)
XFER=$DIST/bin/xfer
log "distribution: $DIST"
# jcmd and jfr of the JDK the agent runs on (as bin/xfer-agent finds it), for the agent's heap per GiB
if [ -n "${JAVA_HOME:-}" ]; then JDK_BIN=$JAVA_HOME/bin; else JDK_BIN=$(dirname "$(readlink -f "$(command -v java)")"); fi
JCMD=$JDK_BIN/jcmd
JFR_TOOL=$JDK_BIN/jfr
JFR_PID=""

SEND_HELP=$("$XFER" send --help 2>&1) || die "'$XFER send --help' failed: $SEND_HELP"
has_flag() { grep -q -- "$1[=, ]" <<<"$SEND_HELP"; }
DROPPED=()
for f in --streams --compress; do
  if ! has_flag "$f"; then
    if [ "${XFER_PERF_NO_NEW_FLAGS:-0}" = 1 ]; then
      DROPPED+=("$f")
    else
      log "warning: 'xfer send' has no $f: those runs will fail (XFER_PERF_NO_NEW_FLAGS=1 drops the flag)"
    fi
  fi
done
HIST_FLAG=0
has_flag --histogram-dir && HIST_FLAG=1
[ "$HIST_FLAG" = 1 ] || note "'xfer send' has no --histogram-dir in this build: no .hgrm/.hlog files collected"

# ------------------------------------------------------------------------------------------------ 2. data on tmpfs
CLIENT_CDS=""
WORK=$(mktemp -d /tmp/xferperf.XXXXXX)
export XFER_CDS_DIR=${XFER_CDS_DIR-$WORK/client-cds}
# Every xfer runs in its own JVM, whatever client daemon the user runs, except in the scenarios that start one.
export XFER_DAEMON=off
DAEMON_SOCKET=$WORK/daemon/client.sock
CLIENT_DAEMON_PID=""
RAW_TMP=$WORK/raw
mkdir -p "$RAW_TMP"
TREE_BYTES=$((TREE_FILES * TREE_FILE_B))
# Sources (two large files, tree, WAN file), one destination copy of the largest, metadata and slack.
NEED_B=$((2 * SIZE_B + WAN_SIZE_B + LFN_SIZE_B + 2 * (TREE_BYTES + TREE_FILES * 1024) + SIZE_B + 256 * 1024 * 1024))
AVAIL_B=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) * 1024))
[ "$NEED_B" -lt "$((AVAIL_B - 2 * 1024 ** 3))" ] ||
  die "data needs $((NEED_B >> 20)) MiB of memory (tmpfs) plus 2 GiB for the JVMs; $((AVAIL_B >> 20)) MiB available: use --size"
DATA=$WORK/data
mkdir -p "$DATA"
if [ "$IS_ROOT" = 1 ] && mount -t tmpfs -o "size=$(((NEED_B >> 20) + 64))m,mode=0755" xferperf "$DATA" 2>/dev/null; then
  DATA_MOUNTED=1
  DATA_FS="tmpfs mounted at $DATA, size $(((NEED_B >> 20) + 64)) MiB"
else
  [ -d /dev/shm ] && [ -w /dev/shm ] || die "cannot mount a tmpfs and /dev/shm is not writable"
  rmdir "$DATA"
  DATA=$(mktemp -d /dev/shm/xferperf.XXXXXX)
  DATA_SHM=1
  DATA_FS="/dev/shm ($DATA): tmpfs mount not possible"
  note "could not mount a tmpfs (not root?): data lives in $DATA on /dev/shm"
fi
SRC=$DATA/src
DST=$DATA/dst
mkdir -p "$SRC" "$DST"
# Destination on a real file system for the tree-on-disk scenarios: the run directories stay until the end, because
# deleting thousands of inodes just before the next run makes ext4's inode allocator search past them.
if [ "$DISK" = 1 ]; then
  if [ -z "$DISK_DIR" ]; then
    DISK_DIR=$(mktemp -d /var/tmp/xferperf-disk.XXXXXX)
    DISK_CREATED=1
  fi
  mkdir -p "$DISK_DIR"
  DISK_FS=$(stat -f -c %T "$DISK_DIR")
  if [ "$DISK_FS" = tmpfs ] || [ "$DISK_FS" = ramfs ]; then
    note "tree-on-disk scenarios skipped: $DISK_DIR is on $DISK_FS"
    DISK=0
  else
    DISK_DST=$(mktemp -d "$DISK_DIR/dst.XXXXXX")
    DISK_DEVICE=$(df -P "$DISK_DIR" | awk 'NR == 2 {print $1}')
    log "tree-on-disk destination: $DISK_DST ($DISK_FS on $DISK_DEVICE)"
  fi
fi
log "generating data in $SRC: 2 x $SIZE, $TREE_FILES x $TREE_FILE_SIZE$([ "$WAN" = 1 ] && echo ", WAN $WAN_SIZE")"
python3 "$HARNESS_DIR/gen_data.py" random "$SRC/large-random.bin" "$SIZE_B"
python3 "$HARNESS_DIR/gen_data.py" text "$SRC/large-text.log" "$SIZE_B"
python3 "$HARNESS_DIR/gen_data.py" tree "$SRC/tree" "$TREE_FILES" "$TREE_FILE_B"
if [ "$WAN" = 1 ]; then
  if [ "$WAN_SIZE_B" -le "$SIZE_B" ]; then
    head -c "$WAN_SIZE_B" "$SRC/large-text.log" >"$SRC/wan-text.log"
  else
    python3 "$HARNESS_DIR/gen_data.py" text "$SRC/wan-text.log" "$WAN_SIZE_B"
  fi
fi
if [ "$LFN" = 1 ]; then
  if [ "$LFN_SIZE_B" -le "$SIZE_B" ]; then
    head -c "$LFN_SIZE_B" "$SRC/large-random.bin" >"$SRC/lfn-random.bin"
  else
    python3 "$HARNESS_DIR/gen_data.py" random "$SRC/lfn-random.bin" "$LFN_SIZE_B"
  fi
fi

# ------------------------------------------------------------------------------------------------ 3. servers
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# listening PID PORT LOG [NETNS]: true once PORT listens; dies if PID exited.
listening() {
  kill -0 "$1" 2>/dev/null || die "process $1 exited before listening on port $2; last lines of $3:
$(tail -n 15 "$3" 2>/dev/null)"
  if [ -n "${4:-}" ]; then
    ip netns exec "$4" ss -Hltn "sport = :$2" | grep -q LISTEN
  else
    ss -Hltn "sport = :$2" | grep -q LISTEN
  fi
}

SETUP=$WORK/setup
PKI=$WORK/pki
mkdir -p "$SETUP" "$PKI"
log "throwaway CA and certificates in $PKI"
"$XFER" pki init "$PKI/ca" --cn "xfer perf CA" --days 2 >"$RAW_TMP/pki.log" 2>&1 || die "xfer pki init failed: $(cat "$RAW_TMP/pki.log")"
"$XFER" pki issue --ca "$PKI/ca" --server agent --dns localhost --ip 127.0.0.1 --ip 192.0.2.1 --ip 198.51.100.1 --days 2 \
  --out "$PKI/agent" >>"$RAW_TMP/pki.log" 2>&1 || die "xfer pki issue --server failed: $(cat "$RAW_TMP/pki.log")"
"$XFER" pki issue --ca "$PKI/ca" --client perf-client --days 2 --out "$PKI/client" >>"$RAW_TMP/pki.log" 2>&1 ||
  die "xfer pki issue --client failed: $(cat "$RAW_TMP/pki.log")"
for f in "$PKI/agent/agent.crt" "$PKI/agent/agent.key" "$PKI/agent/ca.crt" "$PKI/client/perf-client.crt" \
         "$PKI/client/perf-client.key"; do
  [ -f "$f" ] || die "xfer pki did not write $f"
done
CLIENT_TLS=(--cert "$PKI/client/perf-client.crt" --key "$PKI/client/perf-client.key" --ca "$PKI/agent/ca.crt")

# write_agent_config FILE LISTEN
write_agent_config() {
  cat >"$1" <<EOF
# xfer-agent configuration written by perf/harness/run.sh
[agent]
listen = $2
certificate = $PKI/agent/agent.crt
private_key = $PKI/agent/agent.key
ca = $PKI/agent/ca.crt

# the plaintext scenario asks for plaintext data connections; the others do not, so they keep TLS
plaintext_data = true

[module bench]
path = $DST
comment = perf harness destination
write = perf-client
read = perf-client
EOF
  if [ -n "$DISK_DST" ]; then
    cat >>"$1" <<EOF

[module disk]
path = $DISK_DST
comment = perf harness destination on a real file system
write = perf-client
EOF
  fi
}

# start_agent NAME CONFIG PORT [NETNS] -> sets AGENT_STARTED_PID
start_agent() {
  local name=$1 config=$2 port=$3 ns=${4:-} logf=$RAW_TMP/$1.log
  "$DIST/bin/xfer-agent" --config "$config" --check >"$logf" 2>&1 || die "agent configuration rejected: $(tail -n 5 "$logf")"
  if [ -n "$ns" ]; then
    ip netns exec "$ns" "$DIST/bin/xfer-agent" --config "$config" >>"$logf" 2>&1 8>&- 9>&- &
  else
    "$DIST/bin/xfer-agent" --config "$config" >>"$logf" 2>&1 8>&- 9>&- &
  fi
  AGENT_STARTED_PID=$!
  PIDS+=("$AGENT_STARTED_PID")
  SERVER_NAMES[$AGENT_STARTED_PID]=$name
  SERVER_LOGS[$AGENT_STARTED_PID]=$logf
  wait_for "$name to listen on port $port" 60 listening "$AGENT_STARTED_PID" "$port" "$logf" "$ns"
  log "$name: pid $AGENT_STARTED_PID on port $port${ns:+ in namespace $ns}"
}

AGENT_PORT=$(free_port)
write_agent_config "$SETUP/agent.conf" "127.0.0.1:$AGENT_PORT"
start_agent agent "$SETUP/agent.conf" "$AGENT_PORT"
AGENT_PID=$AGENT_STARTED_PID
XFER_URL="xfer://127.0.0.1:$AGENT_PORT/bench"

# Private sshd: throwaway host and user keys, loopback only, root by key only.
SSH_DIR=$WORK/ssh
mkdir -p "$SSH_DIR"
chmod 700 "$SSH_DIR"
ssh-keygen -q -t ed25519 -N '' -C xferperf-host -f "$SSH_DIR/host_ed25519" </dev/null
ssh-keygen -q -t ed25519 -N '' -C xferperf-user -f "$SSH_DIR/user_ed25519" </dev/null
cp "$SSH_DIR/user_ed25519.pub" "$SSH_DIR/authorized_keys"
SSH_PORT=$(free_port)
SFTP_SERVER=internal-sftp
cat >"$SETUP/sshd_config" <<EOF
# sshd for the perf harness: loopback only, throwaway keys
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $SSH_DIR/host_ed25519
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $SSH_DIR/authorized_keys
PidFile $WORK/sshd.pid
UsePAM no
StrictModes no
PrintMotd no
Subsystem sftp $SFTP_SERVER
EOF
if [ ! -d /run/sshd ]; then
  mkdir -p /run/sshd && chmod 755 /run/sshd && CREATED_RUN_SSHD=1
fi
/usr/sbin/sshd -t -f "$SETUP/sshd_config" >"$RAW_TMP/sshd.log" 2>&1 || die "sshd_config rejected: $(cat "$RAW_TMP/sshd.log")"
/usr/sbin/sshd -D -e -f "$SETUP/sshd_config" >>"$RAW_TMP/sshd.log" 2>&1 8>&- 9>&- &
SSHD_PID=$!
PIDS+=("$SSHD_PID")
SERVER_NAMES[$SSHD_PID]=sshd
SERVER_LOGS[$SSHD_PID]=$RAW_TMP/sshd.log
SSH_KEY=$SSH_DIR/user_ed25519
SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR"
SSH_E="ssh -c aes128-gcm@openssh.com -p $SSH_PORT -i $SSH_KEY $SSH_OPTS"
wait_for "sshd to listen on port $SSH_PORT" 30 listening "$SSHD_PID" "$SSH_PORT" "$RAW_TMP/sshd.log"
# shellcheck disable=SC2086
wait_for "ssh login to 127.0.0.1:$SSH_PORT" 30 $SSH_E root@127.0.0.1 true
log "sshd: pid $SSHD_PID on port $SSH_PORT"

# start_iperf_server LOGNAME ADDRESS [NETNS] -> sets IPERF_STARTED_PID and IPERF_STARTED_PORT
start_iperf_server() {
  local logf=$RAW_TMP/$1.log address=$2 ns=${3:-} prefix=()
  [ -n "$ns" ] && prefix=(ip netns exec "$ns")
  IPERF_STARTED_PORT=$(free_port)
  "${prefix[@]}" iperf3 -s -B "$address" -p "$IPERF_STARTED_PORT" >"$logf" 2>&1 8>&- 9>&- &
  IPERF_STARTED_PID=$!
  PIDS+=("$IPERF_STARTED_PID")
  SERVER_NAMES[$IPERF_STARTED_PID]="iperf3 server${ns:+ ($ns)}"
  SERVER_LOGS[$IPERF_STARTED_PID]=$logf
  wait_for "iperf3 to listen on port $IPERF_STARTED_PORT${ns:+ in $ns}" 30 listening "$IPERF_STARTED_PID" \
    "$IPERF_STARTED_PORT" "$logf" "$ns"
  log "iperf3 server: pid $IPERF_STARTED_PID on port $IPERF_STARTED_PORT${ns:+ in namespace $ns}"
}

start_iperf_server iperf3-server 127.0.0.1
IPERF_PID=$IPERF_STARTED_PID
IPERF_PORT=$IPERF_STARTED_PORT

# ------------------------------------------------------------------------------------------------ measurement
CLK_TCK=$(getconf CLK_TCK)
RUNS=$RAW_TMP/runs.jsonl
: >"$RUNS"
# utime+stime+cutime+cstime (reaped children) of PID, in clock ticks.
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}'; }
proc_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
HWM_RESET=0
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null; }
reset_hwm "$AGENT_PID" && HWM_RESET=1
# For ssh: the session processes must be reaped by the sshd listener before its cutime includes them.
sshd_idle() { ! pgrep -P "${1:-$SSHD_PID}" >/dev/null; }
SSHD_PIDS=" $SSHD_PID "

# run_scenario ID TOOL DATASET NETWORK STREAMS COMPRESS BYTES FILES SERVER_PID PREFIX -- CMD...
# In CMD, @RUN@ is replaced by a fresh run id (destination $DST/@RUN@ exists and is empty) and @HIST@ by the
# histogram directory of the run. PREFIX is 'none' or a network namespace to run the client in.
SCENARIOS_RUN=0
# alive PID: dies with the log's last lines when a serving process is gone (crashed, or killed from outside).
alive() {
  local name=${SERVER_NAMES[$1]:-process $1}
  kill -0 "$1" 2>/dev/null || die "$name (pid $1) is no longer running; last lines of its log:
$(tail -n 15 "${SERVER_LOGS[$1]:-/dev/null}" 2>/dev/null)"
}
run_scenario() {
  local id=$1 tool=$2 dataset=$3 network=$4 streams=$5 compress=$6 bytes=$7 files=$8 server_pid=$9 ns=${10}
  shift 11
  wanted "$id" || return 0
  SCENARIOS_RUN=$((SCENARIOS_RUN + 1))
  local template=("$@") total=$((WARMUPS + REPEATS)) i rep warm run_id c a hist tag before after hwm t0 t1 rc
  [ "$tool" = iperf3 ] && total=$REPEATS
  for ((i = 1; i <= total; i++)); do
    warm=0
    rep=$((i - (total - REPEATS)))
    if [ "$rep" -le 0 ]; then warm=1; rep=$i; fi
    tag="$id.$([ "$warm" = 1 ] && echo warmup || echo rep)$rep"
    run_id="run-$tag"
    mkdir -p "$DST/$run_id"
    hist=""
    if [ "$tool" = xfer ] && [ "$HIST_FLAG" = 1 ] && [ "$warm" = 0 ]; then
      hist=$WORK/histograms/$id/rep$rep
      mkdir -p "$hist"
    fi
    c=()
    local skip=0
    for a in "${template[@]}"; do
      if [ "$skip" = 1 ]; then skip=0; continue; fi
      # warm-up runs keep no histograms: leave the option out rather than pass an empty directory (the current one)
      if [ -z "$hist" ] && [ "$a" = --histogram-dir ]; then skip=1; continue; fi
      a=${a//@RUN@/$run_id}
      a=${a//@HIST@/$hist}
      c+=("$a")
    done
    alive "$server_pid"
    local jfr_file=""
    if [ -n "$JFR_PID" ] && [ "$JFR_PID" = "$server_pid" ]; then
      jfr_file=$RAW_TMP/$tag.jfr
      "$JCMD" "$server_pid" JFR.start name=xferperf-heap settings="$HARNESS_DIR/thread-allocation.jfc" \
        >"$RAW_TMP/$tag.jfr-start.log" 2>&1 || die "jcmd JFR.start failed: $(tail -n 3 "$RAW_TMP/$tag.jfr-start.log")"
    fi
    before=$(proc_ticks "$server_pid")
    local daemon_before="" daemon_after=""
    [ -n "$CLIENT_DAEMON_PID" ] && daemon_before=$(proc_ticks "$CLIENT_DAEMON_PID")
    [ "$HWM_RESET" = 1 ] && reset_hwm "$server_pid"
    local prefix=()
    [ "$ns" != none ] && prefix=(ip netns exec "$ns")
    t0=$(date +%s%N)
    rc=0
    # In the background and waited for, so that a signal reaches the trap at once rather than after the run.
    "${prefix[@]}" /usr/bin/time -f '%e %U %S %M' -o "$RAW_TMP/$tag.time" \
      timeout -k 10 "$RUN_TIMEOUT" "${c[@]}" >"$RAW_TMP/$tag.out" 2>"$RAW_TMP/$tag.err" </dev/null 8>&- 9>&- &
    CURRENT_PID=$!
    wait "$CURRENT_PID" || rc=$?
    CURRENT_PID=""
    t1=$(date +%s%N)
    if [[ $SSHD_PIDS == *" $server_pid "* ]]; then
      wait_for "sshd session processes to exit after $tag" 30 sshd_idle "$server_pid"
    fi
    alive "$server_pid"
    after=$(proc_ticks "$server_pid")
    hwm=$(proc_hwm_kb "$server_pid")
    local daemon_hwm=""
    if [ -n "$CLIENT_DAEMON_PID" ]; then
      daemon_after=$(proc_ticks "$CLIENT_DAEMON_PID")
      daemon_hwm=$(proc_hwm_kb "$CLIENT_DAEMON_PID")
    fi
    if [ -n "$jfr_file" ]; then
      "$JCMD" "$server_pid" JFR.stop name=xferperf-heap filename="$jfr_file" >"$RAW_TMP/$tag.jfr-stop.log" 2>&1 ||
        die "jcmd JFR.stop failed: $(tail -n 3 "$RAW_TMP/$tag.jfr-stop.log")"
    fi
    local cmd_text
    cmd_text=$(quote_args "${prefix[@]}" "${template[@]}")
    cmd_text=${cmd_text//@RUN@/RUN}
    cmd_text=${cmd_text//@HIST@/HISTOGRAM_DIR}
    cmd_text=${cmd_text//$DIST/\$DIST}
    cmd_text=${cmd_text//$WORK/\$WORK}
    python3 "$HARNESS_DIR/report.py" record "$RUNS" id="$id" tool="$tool" dataset="$dataset" network="$network" \
      streams="$streams" compress="$compress" rep="$rep" warmup="$warm" bytes="$bytes" files="$files" rc="$rc" \
      wall_ns=$((t1 - t0)) timefile="$RAW_TMP/$tag.time" stdout="$RAW_TMP/$tag.out" stderr="$RAW_TMP/$tag.err" \
      cmd="${cmd_text% }" server="$(tr -d '\0' </proc/"$server_pid"/comm)" server_ticks_before="$before" \
      server_ticks_after="$after" server_hwm_kb="$hwm" hwm_per_run="$HWM_RESET" clk_tck="$CLK_TCK" \
      dropped_flags="$([ "$tool" = xfer ] && echo "${DROPPED[*]:-}")" histogram_dir="$hist" \
      server_jfr="$jfr_file" jfr_tool="$JFR_TOOL" client_daemon_ticks_before="$daemon_before" \
      client_daemon_ticks_after="$daemon_after" client_daemon_hwm_kb="$daemon_hwm" >&2
    rm -rf "${DST:?}/$run_id"
    [ -n "$hist" ] && rmdir "$hist" 2>/dev/null || true
  done
}

# quote_args ARG...: the command as one line a shell would read back.
quote_args() {
  local out="" a q="'"
  for a in "$@"; do
    if [[ $a =~ ^[][A-Za-z0-9_./:=@,+%-]+$ ]]; then out+="$a "; else out+="$q${a//$q/$q\\$q$q}$q "; fi
  done
  printf '%s' "${out% }"
}

# xfer_flags STREAMS COMPRESS: the new flags, minus the ones dropped under XFER_PERF_NO_NEW_FLAGS=1.
xfer_flags() {
  local out=()
  [ -n "$1" ] && [[ " ${DROPPED[*]:-} " != *" --streams "* ]] && out+=(--streams "$1")
  [ -n "$2" ] && [[ " ${DROPPED[*]:-} " != *" --compress "* ]] && out+=(--compress "$2")
  [ "$HIST_FLAG" = 1 ] && out+=(--histogram-dir @HIST@)
  [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"
}

SIZE_RANDOM=$(stat -c %s "$SRC/large-random.bin")
SIZE_TEXT=$(stat -c %s "$SRC/large-text.log")

# ------------------------------------------------------------------------------------------------ 4. scenarios
# Warm the agent's JIT once before anything is measured (not recorded).
log "warming up the agent"
"$XFER" send --json "${CLIENT_TLS[@]}" "$SRC/tree" "$SRC/large-random.bin" "$XFER_URL/warmup" \
  >"$RAW_TMP/agent-warmup.out" 2>&1 || log "warning: agent warm-up transfer failed: $(tail -n 2 "$RAW_TMP/agent-warmup.out")"
rm -rf "${DST:?}/warmup"
# That warm-up recorded the classes a client run loads; the next run builds the client's class-sharing archive from
# them in the background (see bin/xfer). Wait for it, so every measured run maps it, as every run of a user's does
# from the third on.
if [ -n "$XFER_CDS_DIR" ]; then
  "$XFER" send --json "${CLIENT_TLS[@]}" "$SRC/tree" "$XFER_URL/warmup" >"$RAW_TMP/cds-warmup.out" 2>&1 ||
    log "warning: second warm-up transfer failed: $(tail -n 2 "$RAW_TMP/cds-warmup.out")"
  rm -rf "${DST:?}/warmup"
  cds_deadline=$((SECONDS + 180))
  until compgen -G "$XFER_CDS_DIR/client-*.jsa" >/dev/null || [ "$SECONDS" -ge "$cds_deadline" ]; do sleep 0.5; done
  if compgen -G "$XFER_CDS_DIR/client-*.jsa" >/dev/null; then
    CLIENT_CDS=$(compgen -G "$XFER_CDS_DIR/client-*.jsa" | head -n 1)
    log "client class-sharing archive: $CLIENT_CDS"
  else
    note "the client ran without a class-sharing archive: none was built in $XFER_CDS_DIR within 180 s"
  fi
fi

log "iperf3 raw TCP ceiling"
for p in 1 4; do
  run_scenario "iperf3-loopback-p$p" iperf3 raw loopback "$p" "" 0 0 "$IPERF_PID" none -- \
    iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t "$IPERF_SECONDS" -O 1 -P "$p" -J
done

log "rsync and scp over ssh (aes128-gcm)"
for ds in large-random large-text tree; do
  case $ds in
    large-random) path=$SRC/large-random.bin; bytes=$SIZE_RANDOM; files=1 ;;
    large-text) path=$SRC/large-text.log; bytes=$SIZE_TEXT; files=1 ;;
    tree) path=$SRC/tree; bytes=$TREE_BYTES; files=$TREE_FILES ;;
  esac
  run_scenario "rsync-$ds" rsync "$ds" loopback "" "" "$bytes" "$files" "$SSHD_PID" none -- \
    rsync -a -e "$SSH_E" "$path" "root@127.0.0.1:$DST/@RUN@/"
  scp_r=()
  [ "$ds" = tree ] && scp_r=(-r)
  # shellcheck disable=SC2086
  run_scenario "scp-$ds" scp "$ds" loopback "" "" "$bytes" "$files" "$SSHD_PID" none -- \
    scp -q "${scp_r[@]}" -c aes128-gcm@openssh.com -P "$SSH_PORT" -i "$SSH_KEY" $SSH_OPTS "$path" \
    "root@127.0.0.1:$DST/@RUN@/"
done

log "xfer send"
for compress in none auto; do
  for s in 1 2 4 8; do
    mapfile -t flags < <(xfer_flags "$s" "$compress")
    run_scenario "xfer-large-random-s$s-$compress" xfer large-random loopback "$s" "$compress" "$SIZE_RANDOM" 1 \
      "$AGENT_PID" none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/large-random.bin" \
      "$XFER_URL/@RUN@"
  done
done
for compress in none auto; do
  mapfile -t flags < <(xfer_flags 4 "$compress")
  run_scenario "xfer-large-text-s4-$compress" xfer large-text loopback 4 "$compress" "$SIZE_TEXT" 1 "$AGENT_PID" \
    none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/large-text.log" "$XFER_URL/@RUN@"
done
for s in 1 4; do
  mapfile -t flags < <(xfer_flags "$s" "")
  run_scenario "xfer-tree-s$s" xfer tree loopback "$s" "" "$TREE_BYTES" "$TREE_FILES" "$AGENT_PID" none -- \
    "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/tree" "$XFER_URL/@RUN@"
done
# The same tree through the client daemon (xfer daemon): each xfer hands its command line to one warm JVM. The
# daemon first serves a few untimed sends, as a user's daemon has served earlier commands; its CPU counts as the
# client's.
if wanted xfer-tree-daemon-s1 || wanted xfer-tree-daemon-s4; then
  log "client daemon"
  XFER_DAEMON=on XFER_DAEMON_SOCKET=$DAEMON_SOCKET "$XFER" daemon --idle 0 >"$RAW_TMP/client-daemon.log" 2>&1 </dev/null &
  CLIENT_DAEMON_PID=$!
  PIDS+=("$CLIENT_DAEMON_PID")
  wait_for "the client daemon" 60 env XFER_DAEMON_SOCKET="$DAEMON_SOCKET" "$XFER" daemon --status
  for ((i = 1; i <= DAEMON_WARMUPS; i++)); do
    XFER_DAEMON=on XFER_DAEMON_SOCKET=$DAEMON_SOCKET "$XFER" send --json "${CLIENT_TLS[@]}" "$SRC/tree" \
      "$XFER_URL/daemon-warmup" >"$RAW_TMP/daemon-warmup.out" 2>&1 ||
      log "warning: daemon warm-up transfer failed: $(tail -n 2 "$RAW_TMP/daemon-warmup.out")"
    rm -rf "${DST:?}/daemon-warmup"
  done
  for s in 1 4; do
    mapfile -t flags < <(xfer_flags "$s" "")
    run_scenario "xfer-tree-daemon-s$s" xfer tree loopback "$s" "client daemon" "$TREE_BYTES" "$TREE_FILES" \
      "$AGENT_PID" none -- \
      env XFER_DAEMON=on XFER_DAEMON_SOCKET="$DAEMON_SOCKET" "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" \
      "$SRC/tree" "$XFER_URL/@RUN@"
  done
  grep -q "exit 0" "$RAW_TMP/client-daemon.log" || note "the client daemon served no command: see raw/client-daemon.log"
  XFER_DAEMON_SOCKET=$DAEMON_SOCKET "$XFER" daemon --stop >/dev/null 2>&1 || stop_pid "$CLIENT_DAEMON_PID"
  wait "$CLIENT_DAEMON_PID" 2>/dev/null || true
  CLIENT_DAEMON_PID=""
fi
# Heap per GiB at the margin: the same transfers with an eighth of the file. What a transfer allocates once (TLS
# handshakes, histograms, queues) cancels out; the report divides the difference by the difference in bytes.
HEAP_B=$((SIZE_RANDOM / 8))
head -c "$HEAP_B" "$SRC/large-random.bin" >"$SRC/heap-random.bin"
mapfile -t flags < <(xfer_flags 4 none)
run_scenario "xfer-heap-random-s4-none" xfer heap-random loopback 4 none "$HEAP_B" 1 "$AGENT_PID" none -- \
  "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/heap-random.bin" "$XFER_URL/@RUN@"
if has_flag --plaintext; then
  run_scenario "xfer-heap-random-s4-plaintext" xfer heap-random loopback 4 "none, plaintext data" "$HEAP_B" 1 \
    "$AGENT_PID" none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" --plaintext "$SRC/heap-random.bin" \
    "$XFER_URL/@RUN@"
fi
# xfer get: the same file and its eighth, fetched from the agent into a new local directory, for throughput and
# the client's heap at the margin when it receives.
mkdir -p "$DST/pull-src"
ln -f "$SRC/large-random.bin" "$SRC/heap-random.bin" "$DST/pull-src/" 2>/dev/null ||
  cp "$SRC/large-random.bin" "$SRC/heap-random.bin" "$DST/pull-src/"
mapfile -t flags < <(xfer_flags 4 none)
run_scenario "xfer-pull-large-random-s4-none" xfer pull-large-random loopback 4 none "$SIZE_RANDOM" 1 "$AGENT_PID" \
  none -- "$XFER" get --json "${CLIENT_TLS[@]}" "${flags[@]}" "$XFER_URL/pull-src/large-random.bin" "$DST/@RUN@/"
run_scenario "xfer-pull-heap-random-s4-none" xfer pull-heap-random loopback 4 none "$HEAP_B" 1 "$AGENT_PID" none -- \
  "$XFER" get --json "${CLIENT_TLS[@]}" "${flags[@]}" "$XFER_URL/pull-src/heap-random.bin" "$DST/@RUN@/"
# The agent's heap per GiB, at the margin as above: pushes (the agent receives) and pulls (it sends) of the whole
# file and of its eighth, against an agent of their own, so that the flight recorder these runs start in it leaves
# the other scenarios' agent as it was. The agent's threads' allocation counters are read when the run starts and
# when it ends (perf/harness/thread-allocation.jfc).
if [ -x "$JCMD" ] && [ -x "$JFR_TOOL" ]; then
  heap_wanted=0
  for id in "${AGENT_HEAP_IDS[@]}"; do wanted "$id" && heap_wanted=1; done
  if [ "$heap_wanted" = 1 ]; then
    HEAP_AGENT_PORT=$(free_port)
    write_agent_config "$SETUP/agent-heap.conf" "127.0.0.1:$HEAP_AGENT_PORT"
    start_agent agent-heap "$SETUP/agent-heap.conf" "$HEAP_AGENT_PORT"
    JFR_PID=$AGENT_STARTED_PID
    HEAP_URL="xfer://127.0.0.1:$HEAP_AGENT_PORT/bench"
    mapfile -t flags < <(xfer_flags 4 none)
    run_scenario "xfer-agent-heap-push-s4-none" xfer agent-heap-push loopback 4 none "$SIZE_RANDOM" 1 "$JFR_PID" \
      none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/large-random.bin" "$HEAP_URL/@RUN@"
    run_scenario "xfer-agent-heap-push-eighth-s4-none" xfer agent-heap-push-eighth loopback 4 none "$HEAP_B" 1 \
      "$JFR_PID" none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/heap-random.bin" \
      "$HEAP_URL/@RUN@"
    run_scenario "xfer-agent-heap-pull-s4-none" xfer agent-heap-pull loopback 4 none "$SIZE_RANDOM" 1 "$JFR_PID" \
      none -- "$XFER" get --json "${CLIENT_TLS[@]}" "${flags[@]}" "$HEAP_URL/pull-src/large-random.bin" \
      "$DST/@RUN@/"
    run_scenario "xfer-agent-heap-pull-eighth-s4-none" xfer agent-heap-pull-eighth loopback 4 none "$HEAP_B" 1 \
      "$JFR_PID" none -- "$XFER" get --json "${CLIENT_TLS[@]}" "${flags[@]}" "$HEAP_URL/pull-src/heap-random.bin" \
      "$DST/@RUN@/"
    stop_pid "$JFR_PID"
    JFR_PID=""
  fi
else
  note "no jcmd or jfr beside the JDK's java ($JDK_BIN): the agent's heap per GiB is not measured"
fi
rm -rf "${DST:?}/pull-src"
if has_flag --plaintext; then
  mapfile -t flags < <(xfer_flags 4 none)
  run_scenario "xfer-large-random-s4-plaintext" xfer large-random loopback 4 "none, plaintext data" "$SIZE_RANDOM" 1 \
    "$AGENT_PID" none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" --plaintext \
    "$SRC/large-random.bin" "$XFER_URL/@RUN@"
else
  note "'xfer send' has no --plaintext in this build: no plaintext (sendfile) scenario"
fi

if [ "$DISK" = 1 ]; then
  log "tree onto a real file system ($DISK_FS): rsync, rsync --fsync, xfer (fsync before every rename)"
  run_scenario "rsync-tree-disk" rsync tree-disk loopback "" "" "$TREE_BYTES" "$TREE_FILES" "$SSHD_PID" none -- \
    rsync -a -e "$SSH_E" "$SRC/tree" "root@127.0.0.1:$DISK_DST/@RUN@/"
  # not "rsync --help | grep -q": grep stops at the first match, rsync dies of SIGPIPE, and pipefail fails the test
  RSYNC_HELP=$(rsync --help 2>&1 || true)
  if grep -q -- '--fsync' <<<"$RSYNC_HELP"; then
    run_scenario "rsync-fsync-tree-disk" rsync-fsync tree-disk loopback "" "" "$TREE_BYTES" "$TREE_FILES" \
      "$SSHD_PID" none -- rsync -a --fsync -e "$SSH_E" "$SRC/tree" "root@127.0.0.1:$DISK_DST/@RUN@/"
  else
    note "this rsync has no --fsync: no durable rsync baseline on disk"
  fi
  for s in 1 4; do
    mapfile -t flags < <(xfer_flags "$s" "")
    run_scenario "xfer-tree-disk-s$s" xfer tree-disk loopback "$s" "" "$TREE_BYTES" "$TREE_FILES" "$AGENT_PID" \
      none -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/tree" "${XFER_URL%/bench}/disk/@RUN@"
  done
fi

# Rate-limited link: two namespaces joined by a veth pair, tbf on both ends (this kernel has no netem).
if [ "$WAN" = 1 ] && { wanted wan-iperf3-p1 || wanted wan-xfer-text-s4-none || wanted wan-xfer-text-s4-auto; }; then
  cat >"$SETUP/wan-up.sh" <<EOF
#!/bin/sh
# Namespaces for the rate-limited scenarios: xferperf-a (agent, iperf3 -s) <-> xferperf-b (client).
# 192.0.2.0/24 is TEST-NET-1 (documentation range), used only inside these two namespaces.
set -e
ip netns add xferperf-a
ip netns add xferperf-b
ip link add xferperf-va type veth peer name xferperf-vb
ip link set xferperf-va netns xferperf-a
ip link set xferperf-vb netns xferperf-b
ip -n xferperf-a addr add 192.0.2.1/24 dev xferperf-va
ip -n xferperf-b addr add 192.0.2.2/24 dev xferperf-vb
ip -n xferperf-a link set lo up
ip -n xferperf-b link set lo up
ip -n xferperf-a link set xferperf-va up
ip -n xferperf-b link set xferperf-vb up
tc -n xferperf-a qdisc add dev xferperf-va root tbf rate $WAN_RATE burst 256kb latency 100ms
tc -n xferperf-b qdisc add dev xferperf-vb root tbf rate $WAN_RATE burst 256kb latency 100ms
EOF
  if [ "$IS_ROOT" != 1 ]; then
    note "WAN scenarios skipped: network namespaces need root"
  elif ! { wan_down; WAN_UP=1; sh "$SETUP/wan-up.sh" >"$RAW_TMP/wan-up.log" 2>&1; }; then
    note "WAN scenarios skipped: namespace setup failed: $(tr '\n' ' ' <"$RAW_TMP/wan-up.log")"
    wan_down
    WAN_UP=0
  else
    log "rate-limited link: $WAN_RATE each way between namespaces xferperf-a and xferperf-b"
    WAN_AGENT_PORT=$(free_port)
    write_agent_config "$SETUP/agent-wan.conf" "192.0.2.1:$WAN_AGENT_PORT"
    start_agent agent-wan "$SETUP/agent-wan.conf" "$WAN_AGENT_PORT" xferperf-a
    WAN_AGENT_PID=$AGENT_STARTED_PID
    start_iperf_server iperf3-server-wan 192.0.2.1 xferperf-a
    WAN_IPERF_PID=$IPERF_STARTED_PID
    WAN_IPERF_PORT=$IPERF_STARTED_PORT
    run_scenario wan-iperf3-p1 iperf3 raw wan 1 "" 0 0 "$WAN_IPERF_PID" xferperf-b -- \
      iperf3 -c 192.0.2.1 -p "$WAN_IPERF_PORT" -t "$IPERF_SECONDS" -O 1 -P 1 -J
    ip netns exec xferperf-b "$XFER" send --json "${CLIENT_TLS[@]}" "$SRC/tree" \
      "xfer://192.0.2.1:$WAN_AGENT_PORT/bench/warmup" >"$RAW_TMP/agent-wan-warmup.out" 2>&1 ||
      log "warning: WAN agent warm-up failed: $(tail -n 2 "$RAW_TMP/agent-wan-warmup.out")"
    rm -rf "${DST:?}/warmup"
    for compress in none auto; do
      mapfile -t flags < <(xfer_flags 4 "$compress")
      run_scenario "wan-xfer-text-s4-$compress" xfer wan-text wan 4 "$compress" "$WAN_SIZE_B" 1 "$WAN_AGENT_PID" \
        xferperf-b -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/wan-text.log" \
        "xfer://192.0.2.1:$WAN_AGENT_PORT/bench/@RUN@"
    done
  fi
fi
# Long fat link: two namespaces joined through a delay line between TUN devices (this kernel may have no netem),
# with tbf for the rate on both ends. TCP runs end to end through it, so window limits show as on a WAN: ssh's
# channel window for rsync, each TCP connection's buffers for one stream against several.
lfn_wanted=0
for id in lfn-iperf3-p1 lfn-iperf3-p4 rsync-lfn-random xfer-lfn-random-s1-none xfer-lfn-random-s4-none \
  xfer-lfn-random-s8-none; do
  wanted "$id" && lfn_wanted=1
done
if [ "$LFN" = 1 ] && [ "$lfn_wanted" = 1 ]; then
  if command -v cc >/dev/null &&
    cc -O2 -o "$WORK/delay_line" "$HARNESS_DIR/delay_line.c" >"$RAW_TMP/delay-line-cc.log" 2>&1; then
    DELAY_LINE=("$WORK/delay_line")
  else
    DELAY_LINE=(python3 "$HARNESS_DIR/delay_line.py")
    note "long fat link: no C compiler, so the Python delay line forwards the packets; near 500 mbit it can be the bottleneck (compare lfn-iperf3 with the rate)"
  fi
  LFN_ONE_WAY_MS=$(python3 -c "print($LFN_RTT_MS / 2)")
  cat >"$SETUP/lfn-up.sh" <<EOF
#!/bin/sh
# Long fat link, step 1 of 2: namespaces xferperf-la (agent, sshd, iperf3 -s) and xferperf-lb (clients) and two TUN
# devices, still in the root namespace so that the delay line can attach to them by name.
set -e
ip netns add xferperf-la
ip netns add xferperf-lb
ip tuntap add dev xferperf-ta mode tun
ip tuntap add dev xferperf-tb mode tun
EOF
  cat >"$SETUP/lfn-link.sh" <<EOF
#!/bin/sh
# Long fat link, step 2 of 2, once the delay line holds both devices: move each into its namespace, address it
# (198.51.100.0/24 is TEST-NET-2, used only inside these two namespaces) and limit its rate.
set -e
ip link set xferperf-ta netns xferperf-la
ip link set xferperf-tb netns xferperf-lb
ip -n xferperf-la addr add 198.51.100.1/24 dev xferperf-ta
ip -n xferperf-lb addr add 198.51.100.2/24 dev xferperf-tb
ip -n xferperf-la link set lo up
ip -n xferperf-lb link set lo up
ip -n xferperf-la link set xferperf-ta up
ip -n xferperf-lb link set xferperf-tb up
tc -n xferperf-la qdisc add dev xferperf-ta root tbf rate $LFN_RATE burst 256kb latency 200ms
tc -n xferperf-lb qdisc add dev xferperf-tb root tbf rate $LFN_RATE burst 256kb latency 200ms
EOF
  if [ "$IS_ROOT" != 1 ]; then
    note "long-fat-link scenarios skipped: network namespaces and TUN devices need root"
  elif ! { lfn_down; LFN_UP=1; sh "$SETUP/lfn-up.sh" >"$RAW_TMP/lfn-up.log" 2>&1; }; then
    note "long-fat-link scenarios skipped: setup failed: $(tr '\n' ' ' <"$RAW_TMP/lfn-up.log")"
    lfn_down
    LFN_UP=0
  else
    "${DELAY_LINE[@]}" xferperf-ta xferperf-tb --delay-ms "$LFN_ONE_WAY_MS" --loss "$LFN_LOSS" \
      --loss-burst "$LFN_LOSS_BURST" \
      >"$RAW_TMP/delay-line.out" 2>"$RAW_TMP/delay-line.log" 8>&- 9>&- &
    DELAY_LINE_PID=$!
    PIDS+=("$DELAY_LINE_PID")
    SERVER_NAMES[$DELAY_LINE_PID]="delay line"
    SERVER_LOGS[$DELAY_LINE_PID]=$RAW_TMP/delay-line.log
    delay_line_ready() { alive "$DELAY_LINE_PID"; grep -q READY "$RAW_TMP/delay-line.out"; }
    wait_for "the delay line to attach to its TUN devices" 30 delay_line_ready
    sh "$SETUP/lfn-link.sh" >>"$RAW_TMP/lfn-up.log" 2>&1 || die "long fat link setup failed: $(cat "$RAW_TMP/lfn-up.log")"
    log "long fat link: $LFN_RATE, round trip $LFN_RTT_MS ms, loss $LFN_LOSS each way in runs of $LFN_LOSS_BURST" \
      "packets on average (${DELAY_LINE[*]##*/})"
    LFN_AGENT_PORT=$(free_port)
    write_agent_config "$SETUP/agent-lfn.conf" "198.51.100.1:$LFN_AGENT_PORT"
    start_agent agent-lfn "$SETUP/agent-lfn.conf" "$LFN_AGENT_PORT" xferperf-la
    LFN_AGENT_PID=$AGENT_STARTED_PID
    start_iperf_server iperf3-server-lfn 198.51.100.1 xferperf-la
    LFN_IPERF_PID=$IPERF_STARTED_PID
    LFN_IPERF_PORT=$IPERF_STARTED_PORT
    LFN_SSH_PORT=$(free_port)
    sed -e "s/^ListenAddress .*/ListenAddress 198.51.100.1/" -e "s/^Port .*/Port $LFN_SSH_PORT/" \
      -e "s#^PidFile .*#PidFile $WORK/sshd-lfn.pid#" "$SETUP/sshd_config" >"$SETUP/sshd_config-lfn"
    ip netns exec xferperf-la /usr/sbin/sshd -D -e -f "$SETUP/sshd_config-lfn" >"$RAW_TMP/sshd-lfn.log" 2>&1 \
      8>&- 9>&- &
    LFN_SSHD_PID=$!
    PIDS+=("$LFN_SSHD_PID")
    SSHD_PIDS+="$LFN_SSHD_PID "
    SERVER_NAMES[$LFN_SSHD_PID]="sshd (xferperf-la)"
    SERVER_LOGS[$LFN_SSHD_PID]=$RAW_TMP/sshd-lfn.log
    wait_for "sshd to listen in xferperf-la" 30 listening "$LFN_SSHD_PID" "$LFN_SSH_PORT" "$RAW_TMP/sshd-lfn.log" \
      xferperf-la
    LFN_SSH_E="ssh -c aes128-gcm@openssh.com -p $LFN_SSH_PORT -i $SSH_KEY $SSH_OPTS"
    for p in 1 4; do
      run_scenario "lfn-iperf3-p$p" iperf3 raw lfn "$p" "" 0 0 "$LFN_IPERF_PID" xferperf-lb -- \
        iperf3 -c 198.51.100.1 -p "$LFN_IPERF_PORT" -t "$IPERF_SECONDS" -O 1 -P "$p" -J
    done
    run_scenario rsync-lfn-random rsync lfn-random lfn "" "" "$LFN_SIZE_B" 1 "$LFN_SSHD_PID" xferperf-lb -- \
      rsync -a -e "$LFN_SSH_E" "$SRC/lfn-random.bin" "root@198.51.100.1:$DST/@RUN@/"
    for s in 1 4 8; do
      mapfile -t flags < <(xfer_flags "$s" none)
      run_scenario "xfer-lfn-random-s$s-none" xfer lfn-random lfn "$s" none "$LFN_SIZE_B" 1 "$LFN_AGENT_PID" \
        xferperf-lb -- "$XFER" send --json "${CLIENT_TLS[@]}" "${flags[@]}" "$SRC/lfn-random.bin" \
        "xfer://198.51.100.1:$LFN_AGENT_PORT/bench/@RUN@"
    done
  fi
fi
[ "$SCENARIOS_RUN" -gt 0 ] || die "no scenario ran (--only '$ONLY')"

# ------------------------------------------------------------------------------------------------ 5. report
log "writing the report to $OUT"
mkdir -p "$OUT"
rm -rf "${OUT:?}/raw" "$OUT/charts" "$OUT/histograms" "$OUT/setup" "$OUT/report.md" "$OUT/results.json"
cp -r "$RAW_TMP" "$OUT/raw"
cp -r "$SETUP" "$OUT/setup"
[ -d "$WORK/histograms" ] && cp -r "$WORK/histograms" "$OUT/histograms"
GIT_COMMIT=n/a
if command -v git >/dev/null && git -C "$REPO" rev-parse HEAD >/dev/null 2>&1; then
  GIT_COMMIT=$(git -C "$REPO" rev-parse --short=12 HEAD)
  [ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] || GIT_COMMIT="$GIT_COMMIT (modified)"
fi
JAVA_BIN=java
[ -n "${JAVA_HOME:-}" ] && JAVA_BIN=$JAVA_HOME/bin/java
NOTES_JOINED=""
for n in "${NOTES[@]:-}"; do [ -n "$n" ] && NOTES_JOINED+="$n || "; done
{
  echo "MODE=$([ "$QUICK" = 1 ] && echo quick || echo full)"
  echo "ARGS=$ARGS"
  echo "DATE=$(date -Iseconds)"
  echo "GIT_COMMIT=$GIT_COMMIT"
  echo "JAVA=$JAVA_BIN"
  echo "DIST=$DIST"
  echo "SIZE=$SIZE ($SIZE_B bytes)"
  echo "TREE_FILES=$TREE_FILES"
  echo "TREE_FILE_SIZE=$TREE_FILE_SIZE"
  echo "WAN_SIZE=$WAN_SIZE"
  echo "WAN_RATE=$WAN_RATE"
  echo "LFN=$([ "$LFN_UP" = 1 ] && echo "$LFN_RATE, round trip $LFN_RTT_MS ms, loss $LFN_LOSS in runs of" \
    "$LFN_LOSS_BURST packets, $LFN_SIZE file" || echo off)"
  echo "REPEATS=$REPEATS"
  echo "WARMUPS=$WARMUPS"
  echo "DATA_FS=$DATA_FS"
  echo "HWM_RESET=$HWM_RESET"
  echo "AGENT_JAVA_OPTS=${XFER_AGENT_JAVA_OPTS:-(launcher default)}"
  echo "CLIENT_JAVA_OPTS=${XFER_JAVA_OPTS:-}"
  echo "CLIENT_CDS=${CLIENT_CDS:-none}"
  echo "NOTES=$(tr '\n' ' ' <<<"${NOTES_JOINED% || }")"
} >"$OUT/raw/meta.env"
python3 "$HARNESS_DIR/report.py" render "$OUT"
REPORT_WRITTEN=1
log "report: $OUT/report.md"
if grep -q '"ok": false' "$OUT/raw/runs.jsonl"; then
  log "some runs failed; see the Notes in $OUT/report.md"
  exit 1
fi
