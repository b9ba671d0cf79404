#!/usr/bin/env bash
# The scaling benchmark (bench/README.md, `--only scaling`) on a machine with no Node.js and no
# network: 12 processes inline vs 1 process x 12 threads vs 3 x 4 (and one process, for the
# speed-up), the server pinned to 12 cores and the load generators to the rest.
#
#   bash bench/device/run.sh          (from the repo root)
#
# Needs, from the repo's ignored folder .device/: node.xz (an xz-compressed x86-64 node binary)
# and bench.tar.xz (bash bench/device/pack.sh makes it). Unpacks both with Python 3 (lzma,
# tarfile), so neither xz nor Node has to be installed. Writes to $OUT (default ./bench-out):
#   scaling.md    the markdown table and summary lines
#   scaling.json  every run, the configuration and the machine
#   log.txt       progress: each run's figures, pinning, warnings
#   machine.txt   CPUs, affinity, cgroup limits, kernel, node, what was packed
#   mpm.md, mpm.json   only with MPM=1 (the worker-MPM comparison at 12 slots, ~3 more minutes)
#   scaling-js.md, scaling-js.json  only with JS=1: the same with the JavaScript CPU route
#   bare-loop.md  only with BARE=1: the JavaScript loop in SLOTS threads vs SLOTS processes, no
#                 HTTP, plus --v8-pool-size / --single-threaded-gc / semi-space variants (~1 minute,
#                 before the scaling run; BARE_CALLS sets the calls per worker, default 300)
# Overrides (environment): RUNS (3), DURATION (10 s), WARMUP (3 s), SLOTS (12 on >= 16 CPUs),
# SHAPE (3x4), SERVER_CPUS / LOAD_CPUS (taskset lists; default: the first SLOTS allowed CPUs /
# the rest; too few CPUs: not pinned), CONNECTIONS (4 x SLOTS), LIMIT_S (360: the benchmark's own time limit),
# WORK (/tmp/fastify-mpm-bench), DEVICE_DIR (.device), MPM=1, BARE=1.
set -uo pipefail

ROOT=$(pwd)
OUT=${OUT:-$ROOT/bench-out}
DEVICE_DIR=${DEVICE_DIR:-$ROOT/.device}
WORK=${WORK:-/tmp/fastify-mpm-bench}
mkdir -p "$OUT"
LOG=$OUT/log.txt
: > "$LOG"
say () { echo "run.sh: $*" | tee -a "$LOG" >&2; }
die () { say "FAILED: $*"; exit 3; }

for f in node.xz bench.tar.xz; do
  [ -f "$DEVICE_DIR/$f" ] || die "$DEVICE_DIR/$f is missing (carry .device; bench.tar.xz comes from bash bench/device/pack.sh)"
done
command -v python3 >/dev/null || die "python3 not found"

# -- unpack node and the packed repo (Python: no xz, tar or node needed) --
rm -rf "$WORK"
mkdir -p "$WORK/bin" "$WORK/app"
python3 - "$DEVICE_DIR" "$WORK" <<'PY'
import lzma, os, shutil, sys, tarfile
src, work = sys.argv[1], sys.argv[2]
with lzma.open(os.path.join(src, 'node.xz')) as i, open(os.path.join(work, 'bin', 'node'), 'wb') as o:
    shutil.copyfileobj(i, o, 1 << 20)
os.chmod(os.path.join(work, 'bin', 'node'), 0o755)
with tarfile.open(os.path.join(src, 'bench.tar.xz'), 'r:xz') as t:
    try:
        t.extractall(os.path.join(work, 'app'), filter='data')
    except TypeError:  # Python without extraction filters (< 3.8.17 / 3.11.4)
        t.extractall(os.path.join(work, 'app'))
PY
if [ $? -ne 0 ] || [ ! -x "$WORK/bin/node" ] || [ ! -f "$WORK/app/package.json" ]; then
  # A Python built without lzma: the same with xz and tar, where they exist.
  say "Python could not unpack; trying xz and tar"
  command -v xz >/dev/null && command -v tar >/dev/null || die "unpacking failed (no lzma in python3, no xz)"
  rm -rf "$WORK/app" && mkdir -p "$WORK/app"
  xz -dc "$DEVICE_DIR/node.xz" > "$WORK/bin/node" && chmod +x "$WORK/bin/node" &&
    tar -xJf "$DEVICE_DIR/bench.tar.xz" -C "$WORK/app" || die "unpacking failed"
fi
export PATH="$WORK/bin:$PATH"
NODE_VERSION=$(node --version 2>&1) || { ldd "$WORK/bin/node" >> "$LOG" 2>&1; die "the unpacked node does not run: $NODE_VERSION"; }
say "node $NODE_VERSION at $(command -v node)"

# -- CPUs and pinning --
NPROC=$(nproc)
if ! command -v taskset >/dev/null; then
  # util-linux missing: a stand-in for the one form the harness runs, `taskset -a -p -c LIST PID`.
  say "taskset not found: using a Python stand-in (os.sched_setaffinity on every thread)"
  cat > "$WORK/bin/taskset" <<'PY'
#!/usr/bin/env python3
import os, sys
a = sys.argv[1:]
if len(a) != 5 or a[:3] != ['-a', '-p', '-c']:
    sys.exit('taskset stand-in: only "taskset -a -p -c LIST PID" is supported')
cpus = set()
for part in a[3].split(','):
    lo, _, hi = part.partition('-')
    cpus.update(range(int(lo), int(hi or lo) + 1))
for tid in os.listdir(f'/proc/{a[4]}/task'):
    os.sched_setaffinity(int(tid), cpus)
PY
  chmod +x "$WORK/bin/taskset"
fi
taskset -a -p -c "$(grep Cpus_allowed_list /proc/self/status | cut -f2)" $$ >/dev/null 2>&1 || die "taskset cannot set this shell's affinity"

if [ "$NPROC" -ge 16 ]; then
  SLOTS=${SLOTS:-12}; SHAPE=${SHAPE:-3x4}
else
  # Not the 16-core machine (a local trial): keep a quarter of the CPUs for the load.
  LOADN=$(( NPROC / 4 > 0 ? NPROC / 4 : 1 ))
  SLOTS=${SLOTS:-$(( NPROC - LOADN > 0 ? NPROC - LOADN : 1 ))}
  SHAPE=${SHAPE:-${SLOTS}x1}
  say "warning: $NPROC CPUs, not the 16-core machine: $SLOTS slots, shape $SHAPE"
fi
RUNS=${RUNS:-3}; DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-$(( 4 * SLOTS ))}
LIMIT_S=${LIMIT_S:-360}
if [ -z "${SERVER_CPUS:-}" ]; then
  # The first SLOTS CPUs this shell may use for the server, the rest for the load generators
  # (a cpuset need not start at 0). Too few CPUs: no pinning.
  read -r SERVER_CPUS LOAD_CPUS < <(cd "$WORK/app" && node --input-type=module -e "
    import { allowedCpus, formatCpuList } from './bench/lib/affinity.js'
    const a = allowedCpus() ?? [], s = $SLOTS
    console.log(a.length > s ? formatCpuList(a.slice(0, s)) + ' ' + (process.env.LOAD_CPUS || formatCpuList(a.slice(s))) : '')")
fi
PIN=()
[ -n "${SERVER_CPUS:-}" ] && PIN+=(--server-cpus "$SERVER_CPUS")
[ -n "${LOAD_CPUS:-}" ] && PIN+=(--load-cpus "$LOAD_CPUS")
[ ${#PIN[@]} -eq 0 ] && say "warning: not enough CPUs to pin $SLOTS slots apart from the load: NOT pinned"

{
  echo "## machine"
  echo "nproc: $NPROC"
  grep -E 'Cpus_allowed_list|Mems_allowed_list' /proc/self/status
  echo "uname: $(uname -srm)"
  case "$(uname -r)" in 4.4.0*) echo "NOTE: kernel 4.4.0 is what gVisor reports: CPU affinity may not be enforced there";; esac
  for f in /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpuset.cpus.effective /sys/fs/cgroup/cpu/cpu.cfs_quota_us; do
    [ -r "$f" ] && echo "$f: $(cat "$f")"
  done
  echo "load average: $(cat /proc/loadavg)"
  echo "memory: $(grep MemTotal /proc/meminfo)"
  echo "node: $NODE_VERSION"
  echo "taskset: $(command -v taskset)"
  echo "python3: $(python3 --version 2>&1)"
  echo
  echo "## lscpu"
  lscpu 2>/dev/null || grep -m1 'model name' /proc/cpuinfo
  echo
  echo "## lscpu -e (which CPUs share a core)"
  lscpu -e 2>/dev/null || true
  echo
  echo "## packed"
  cat "$WORK/app/PACKED.txt"
  echo
  echo "## settings"
  echo "slots $SLOTS, shape $SHAPE, runs $RUNS x ${DURATION}s, warm-up ${WARMUP}s, connections $CONNECTIONS, pin ${PIN[*]:-(harness default)}"
} > "$OUT/machine.txt" 2>&1
say "$NPROC CPUs ($(grep Cpus_allowed_list /proc/self/status | cut -f2)), $SLOTS slots, shape $SHAPE, $RUNS runs x ${DURATION}s"

# -- the benchmark --
cd "$WORK/app"
run_bench () {  # name, args...
  local name=$1; shift
  rm -rf bench/results
  local started=$SECONDS
  timeout -k 10 "$LIMIT_S" node bench/run.js "$@" > "$OUT/$name.md" 2> >(tee -a "$LOG" >&2)
  local rc=$?
  local json
  json=$(ls -t bench/results/*.json 2>/dev/null | head -1)
  [ -n "$json" ] && cp "$json" "$OUT/$name.json"
  say "$name: exit $rc after $(( SECONDS - started )) s"
  return $rc
}

if [ "${BARE:-0}" = 1 ]; then
  # Issue 11, point 2: the pure-JavaScript loop in SLOTS threads of one process vs SLOTS
  # processes, no HTTP and no pool, pinned like the server; then with the V8 settings that could
  # close a gap (each variant in a fresh process with its own flags). About a minute.
  say "bare loop: $SLOTS threads vs $SLOTS processes"
  (
    [ -n "${SERVER_CPUS:-}" ] && taskset -a -p -c "$SERVER_CPUS" $BASHPID >/dev/null
    exec timeout -k 10 "$LIMIT_S" node bench/bare-loop.js --n "$SLOTS" --calls "${BARE_CALLS:-300}" --runs "$RUNS" \
      --variants "${BARE_VARIANTS:-processes,threads,threads-pool1,threads-poolN,threads-single-gc,threads-semi64,threads-young64,threads-arena2,processes-pool1}"
  ) > "$OUT/bare-loop.md" 2> >(tee -a "$LOG" >&2)
  say "bare loop: exit $?"
  cat "$OUT/bare-loop.md" >&2
fi

run_bench scaling --only scaling --slots "$SLOTS" --shape "$SHAPE" --scaling-connections "$CONNECTIONS" \
  --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" "${PIN[@]}"
RC=$?
if [ "${JS:-0}" = 1 ]; then
  # The same with the pure-JavaScript CPU route (BENCH_CPU_KIND=js), where threads fell behind.
  export BENCH_CPU_KIND=js
  run_bench scaling-js --only scaling --slots "$SLOTS" --shape "$SHAPE" --scaling-connections "$CONNECTIONS" \
    --runs "$RUNS" --duration "$DURATION" --warmup "$WARMUP" "${PIN[@]}" || RC=$?
  cat "$OUT/scaling-js.md" >&2
  unset BENCH_CPU_KIND
fi

if [ "${MPM:-0}" = 1 ]; then
  # The same app at SLOTS slots with the light route: SLOTS processes inline, 1 x SLOTS threads,
  # SLOTS x 1; the server and the load generators pinned as above.
  run_bench mpm --only mpm --processes "$SLOTS" --process-threads 1 --heavy-connections "$CONNECTIONS" --connections "$CONNECTIONS" \
    --runs "$RUNS" --duration 5 --warmup 2 "${PIN[@]}" || RC=$?
fi

echo >&2
cat "$OUT/scaling.md" >&2
exit $RC
