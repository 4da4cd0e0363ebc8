#!/usr/bin/env bash
# flowbot vs the chatbot-flow peers, in one run, on one machine.
#
#   bash bench/run.sh                                  # compare + flow sizes + scale + profile
#   DURATION=10s bash bench/run.sh                     # shorter levels
#   PHASES=compare TARGETS="nodered-tls flowbot" bash bench/run.sh
#
# The workload is the peers' chat turn (../shared/bench/peers/README.md):
# a request comes in, the engine calls GET /orders/42 on the Go upstream on
# 127.0.0.1 over HTTPS, picks a branch on the status code and renders
# "Good news! Order 42 is shipped and should arrive on 2026-12-01."
#
# Targets (phase "compare"):
#   upstream, upstream-tls  wrk -> the upstream directly (the floor)
#   nodered, nodered-tls    wrk -> Node-RED POST /turn(-tls) -> upstream (http / https)
#   flowbot                 wrk -> flowbot POST /v1/conversations/{id}/messages
#                           (ask -> api_call https upstream -> message -> ask);
#                           the turn is on disk (journal, fdatasync) before the reply.
# flowbot is driven by the same wrk (-t1, same connection counts, warm-up,
# durations and pauses) with bench/load/flowbot-turn.lua. Each turn needs a
# conversation and its bearer token, so first, outside the measured time,
# `flowbot-load prepare` publishes the bot, checks both branches and starts a
# pool of conversations waiting at their ask step; the script formats one
# request per conversation once and sends them round-robin over a pool of
# max(POOL_MIN, POOL_FACTOR*c) conversations, counting a reply as good only if
# it is 200 with the success text. Server CPU and RSS come from /proc.
#
# Other phases:
#   flowsize  create/save/validate/publish/first-start time for 100..10,000-step flows
#   scale     a fresh flowbot: preload 1k, 10k, 100k waiting conversations; after
#             each, RSS, DB size and turns at c=16 and c=64
#   waiting   a fresh flowbot with 10,000 conversations waiting for input: RSS, heap
#   profile   cmd/flowbot with --pprof-addr (block and mutex profiling on) under wrk
#             c=16 over a prepared pool (as in compare): CPU, block and mutex profiles, top entries as text
#
# Needs: go, node/npm (Node-RED is installed into /tmp/nodered), wrk (apt),
# and the peers folder at ../shared/bench/peers relative to the repo root
# (PEERS_DIR overrides). Only loopback is used; every process this script
# starts is killed by its PID at exit.
#
# Knobs (env):
#   DURATION=20s WARMUP=5s CONCURRENCY="1 16 64 256"
#   TARGETS="upstream upstream-tls nodered nodered-tls flowbot"
#   PHASES="compare flowsize scale waiting profile"
#   WAITING=10000
#   SCALE_STEPS="1000 10000 100000" SCALE_CONCURRENCY="16,64" SCALE_DURATION=$DURATION
#   FLOW_SIZES="100,1000,10000" FLOW_REPEATS=5
#   PROFILE_SECONDS=20 PROFILE_CONCURRENCY=16
#   POOL_MIN=1024 POOL_FACTOR=4 flowbot conversations per wrk level: max(POOL_MIN, POOL_FACTOR*c)
#   FLOWBOT_WANT=...   (read by flowbot-turn.lua) replaces the success text; a wrong one
#                      must turn every flowbot reply into a bad one (checks the check)
#   BENCH_WORK=/tmp/flowbot-bench   scratch (logs, pids, data, results)
#   RESULTS_DIR=bench/results/<UTC date-time>   where results are copied at the end
#   UPSTREAM_PORT=18080 UPSTREAM_TLS_PORT=18443 NODERED_PORT=1880 FLOWBOT_PORT=18088 PPROF_PORT=16060
#     (the Node-RED flow hard-codes 18080/18443)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEERS=${PEERS_DIR:-$ROOT/../shared/bench/peers}
WORK=${BENCH_WORK:-/tmp/flowbot-bench}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
CONCURRENCY=${CONCURRENCY:-"1 16 64 256"}
TARGETS=${TARGETS:-"upstream upstream-tls nodered nodered-tls flowbot"}
PHASES=${PHASES:-"compare flowsize scale waiting profile"}
WAITING=${WAITING:-10000}
SCALE_STEPS=${SCALE_STEPS:-"1000 10000 100000"}
SCALE_CONCURRENCY=${SCALE_CONCURRENCY:-"16,64"}
SCALE_DURATION=${SCALE_DURATION:-$DURATION}
FLOW_SIZES=${FLOW_SIZES:-"100,1000,10000"}
FLOW_REPEATS=${FLOW_REPEATS:-5}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}
PROFILE_CONCURRENCY=${PROFILE_CONCURRENCY:-16}
# A conversation takes at most 1,000 replies (flowbot ends it after), and
# every level reuses the first conversations of the pool: 1,024 keeps each
# under ~450 turns over a whole compare phase (~415k turns).
POOL_MIN=${POOL_MIN:-1024}
POOL_FACTOR=${POOL_FACTOR:-4}
NODERED_VERSION=${NODERED_VERSION:-4.1.15}
UPSTREAM_PORT=${UPSTREAM_PORT:-18080}
UPSTREAM_TLS_PORT=${UPSTREAM_TLS_PORT:-18443}
NODERED_PORT=${NODERED_PORT:-1880}
FLOWBOT_PORT=${FLOWBOT_PORT:-18088}
PPROF_PORT=${PPROF_PORT:-16060}
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$HERE/results/$STAMP}

NODERED_PREFIX=/tmp/nodered
WRK_LUA=$HERE/load/turn.lua
FLOWBOT_LUA=$HERE/load/flowbot-turn.lua
BODY='{"order":"42"}'
# a fresh random admin token per run (never printed into results)
ADMIN_TOKEN=fbk_bench_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')

[[ -d $PEERS/upstream && -f $PEERS/nodered/settings.js ]] || {
	echo "bench/run.sh: peers folder not found at $PEERS (set PEERS_DIR)" >&2
	exit 1
}

mkdir -p "$WORK"/{bin,logs,pids,results}
rm -f "$WORK"/results/*
RESULTS=$WORK/results/compare.md
CA=$WORK/upstream.pem
# flowbot conversations and their bearer tokens for wrk (kept out of results/)
CONVS=$WORK/flowbot-convs.txt

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- processes
# (as in ../shared/bench/peers/run.sh) NAME -> PID, also in $WORK/pids/NAME.pid
# so a later run reaps leftovers of an interrupted one, by PID only.
declare -A PID=()

proc_is_ours() { # pid marker
	local pid=$1 marker=$2
	[[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' </proc/"$pid"/cmdline | grep -qF -- "$marker"
}

descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

cmdline() { tr '\0' ' ' </proc/"$1"/cmdline 2>/dev/null || true; }

stop_pid() { # pid [name]: TERM, then KILL after 5 s; children too
	local pid=$1 name=${2:-?} kids k i
	local -A kidcmd=()
	[[ -d /proc/$pid ]] || return 0
	kids=$(descendants "$pid" | tr '\n' ' ')
	for k in $kids; do kidcmd[$k]=$(cmdline "$k"); done
	log "stopping $name (pid $pid${kids:+, children $kids})"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
	if [[ -d /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
	for k in $kids; do
		if [[ -d /proc/$k && -n ${kidcmd[$k]} && "$(cmdline "$k")" == "${kidcmd[$k]}" ]]; then
			kill -KILL "$k" 2>/dev/null || true
		fi
	done
	wait "$pid" 2>/dev/null || true
}

stop_name() { # name
	if [[ -n ${PID[$1]:-} ]]; then
		stop_pid "${PID[$1]}" "$1"
		unset "PID[$1]"
		rm -f "$WORK/pids/$1.pid"
	fi
}

LOAD_PID=
cleanup() {
	local name
	if [[ -n ${LOAD_PID:-} && -d /proc/$LOAD_PID ]]; then kill -TERM "$LOAD_PID" 2>/dev/null || true; fi
	for name in "${!PID[@]}"; do
		stop_pid "${PID[$name]}" "$name"
		rm -f "$WORK/pids/$name.pid"
	done
	PID=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

reap_stale() {
	local f name pid marker
	for f in "$WORK"/pids/*.pid; do
		[[ -e $f ]] || continue
		name=$(basename "$f" .pid)
		read -r pid marker <"$f" || true
		if [[ -n ${pid:-} && -n ${marker:-} ]] && proc_is_ours "$pid" "$marker"; then
			stop_pid "$pid" "stale $name"
		fi
		rm -f "$f"
	done
}

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

start_bg() { # name marker logfile cmd...
	local name=$1 marker=$2 logf=$3
	shift 3
	"$@" >"$logf" 2>&1 &
	PID[$name]=$!
	echo "${PID[$name]} $marker" >"$WORK/pids/$name.pid"
	log "started $name pid ${PID[$name]} (log $logf)"
}

wait_http() { # url timeout_s [curl args...]
	local url=$1 t=$2
	shift 2
	local deadline=$((SECONDS + t))
	while ((SECONDS < deadline)); do
		if curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>/dev/null; then return 0; fi
		sleep 0.5
	done
	return 1
}

rss_mib() { # pid -> "MAIN_PEAK CHILDREN_PEAK CURRENT_TOTAL" in MiB
	local p main=0 kids=0 cur=0 h r
	for p in "$1" $(descendants "$1"); do
		h=$(awk '/^VmHWM:/{print $2}' /proc/"$p"/status 2>/dev/null || true)
		r=$(awk '/^VmRSS:/{print $2}' /proc/"$p"/status 2>/dev/null || true)
		if [[ $p == "$1" ]]; then main=${h:-0}; else kids=$((kids + ${h:-0})); fi
		cur=$((cur + ${r:-0}))
	done
	echo "$((main / 1024)) $((kids / 1024)) $((cur / 1024))"
}

# ---------------------------------------------------------------- installs and builds
install_wrk() {
	if ! command -v wrk >/dev/null; then
		log "installing wrk from apt"
		apt-get update >"$WORK/logs/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >>"$WORK/logs/apt.log" 2>&1
	fi
}

installed_version() { # prefix pkg
	node -e 'try{console.log(require(process.argv[1]).version)}catch(e){process.exit(1)}' "$1/node_modules/$2/package.json" 2>/dev/null
}

install_nodered() {
	local v
	v=$(installed_version "$NODERED_PREFIX" node-red || true)
	if [[ -z $v || ($NODERED_VERSION != latest && $v != "$NODERED_VERSION") ]]; then
		mkdir -p "$NODERED_PREFIX"
		[[ -f $NODERED_PREFIX/package.json ]] || echo '{"name":"peer-nodered","private":true}' >"$NODERED_PREFIX/package.json"
		log "npm install --prefix $NODERED_PREFIX node-red@$NODERED_VERSION"
		timeout 600 npm install --no-audit --no-fund --save-exact --prefix "$NODERED_PREFIX" "node-red@$NODERED_VERSION" \
			>"$WORK/logs/npm-nodered.log" 2>&1
	fi
}

build_all() {
	log "building the upstream (from $PEERS/upstream), cmd/flowbot and cmd/flowbot-load"
	(cd "$PEERS/upstream" && go build -o "$WORK/bin/upstream" .)
	(cd "$ROOT" && go build -o "$WORK/bin/flowbot" ./cmd/flowbot && go build -o "$WORK/bin/flowbot-load" ./cmd/flowbot-load)
}

# ---------------------------------------------------------------- servers
start_upstream() {
	port_free "$UPSTREAM_PORT" && port_free "$UPSTREAM_TLS_PORT" || {
		log "port $UPSTREAM_PORT or $UPSTREAM_TLS_PORT busy"
		return 1
	}
	rm -f "$CA"
	start_bg upstream "$WORK/bin/upstream" "$WORK/logs/upstream.log" \
		"$WORK/bin/upstream" -host 127.0.0.1 -port "$UPSTREAM_PORT" -tls-port "$UPSTREAM_TLS_PORT" -cert-out "$CA"
	wait_http "http://127.0.0.1:$UPSTREAM_PORT/healthz" 10
	for _ in $(seq 1 20); do [[ -s $CA ]] && break; sleep 0.1; done
	wait_http "https://127.0.0.1:$UPSTREAM_TLS_PORT/healthz" 10 --cacert "$CA"
}

start_nodered() {
	port_free "$NODERED_PORT" || {
		log "port $NODERED_PORT busy"
		return 1
	}
	rm -rf "$WORK/nodered-user"
	mkdir -p "$WORK/nodered-user"
	start_bg nodered node-red-bench-peer "$WORK/logs/nodered.log" \
		env UPSTREAM_CA="$CA" NODERED_PORT="$NODERED_PORT" NODERED_USERDIR="$WORK/nodered-user" \
		node "$NODERED_PREFIX/node_modules/node-red/red.js" --title node-red-bench-peer --settings "$PEERS/nodered/settings.js"
	wait_http "http://127.0.0.1:$NODERED_PORT/turn" 60 -X POST -H 'Content-Type: application/json' -d "$BODY"
}

# start_flowbot NAME DATADIR: the real binary, rate limits off, api_call may
# reach loopback, the upstream's self-signed cert trusted via SSL_CERT_FILE.
# FLOWBOT_ENV: extra VAR=value words for the flowbot process only (e.g.
# "GOGC=100"), so runtime settings can be compared without touching the
# upstream, Node-RED or wrk.
read -ra FLOWBOT_ENV_ARGS <<<"${FLOWBOT_ENV:-}"

start_flowbot() {
	local name=$1 data=$2
	port_free "$FLOWBOT_PORT" || {
		log "port $FLOWBOT_PORT busy"
		return 1
	}
	rm -rf "$data"
	start_bg "$name" "$WORK/bin/flowbot" "$WORK/logs/$name.log" \
		env FLOWBOT_ADMIN_TOKEN="$ADMIN_TOKEN" SSL_CERT_FILE="$CA" "${FLOWBOT_ENV_ARGS[@]}" \
		"$WORK/bin/flowbot" --addr "127.0.0.1:$FLOWBOT_PORT" --data "$data" --allow-private-networks \
		--rate-limit-ip 0 --rate-limit-conversation 0 --log-level warn
	wait_http "http://127.0.0.1:$FLOWBOT_PORT/healthz" 30
}

check_turn() { # name url
	local name=$1 url=$2 ok miss
	ok=$(curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' -d '{"order":"42"}' "$url") || return 1
	miss=$(curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' -d '{"order":"missing"}' "$url") || return 1
	log "$name 42      -> $ok"
	log "$name missing -> $miss"
	grep -q '"branch":"success"' <<<"$ok" && grep -q '2026-12-01' <<<"$ok" &&
		grep -q '"branch":"failure"' <<<"$miss" && grep -q '"upstream_status":404' <<<"$miss"
}

# run_load LOGFILE flowbot-load args...: in the background and waited for,
# so that INT/TERM reach cleanup at once.
run_load() {
	local out=$1
	shift
	FLOWBOT_ADMIN_TOKEN=$ADMIN_TOKEN "$WORK/bin/flowbot-load" "$@" >"$out" 2>&1 &
	LOAD_PID=$!
	local rc=0
	wait "$LOAD_PID" || rc=$?
	LOAD_PID=
	cat "$out" >&2
	return $rc
}

# ---------------------------------------------------------------- wrk targets
declare -A URL=() METHOD=() OWNER=()
URL[upstream]=http://127.0.0.1:$UPSTREAM_PORT/orders/42
URL[upstream-tls]=https://127.0.0.1:$UPSTREAM_TLS_PORT/orders/42
URL[nodered]=http://127.0.0.1:$NODERED_PORT/turn
URL[nodered-tls]=http://127.0.0.1:$NODERED_PORT/turn-tls
METHOD[upstream]=GET METHOD[upstream-tls]=GET METHOD[nodered]=POST METHOD[nodered-tls]=POST
OWNER[upstream]=upstream OWNER[upstream-tls]=upstream OWNER[nodered]=nodered OWNER[nodered-tls]=nodered

run_wrk() { # target conns duration -> sets R
	local t=$1 c=$2 d=$3 out=$WORK/logs/wrk-last.txt
	WRK_METHOD=${METHOD[$t]} WRK_BODY=$BODY \
		wrk -t1 -c"$c" -d"$d" --timeout 30s -s "$WRK_LUA" "${URL[$t]}" >"$out" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || true
	LOAD_PID=
	R=$(grep '^RESULT' "$out" || echo "RESULT failed")
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

bench_wrk_target() { # target
	local t=$1 owner=${OWNER[$1]} pid c r main kids
	if [[ -z ${PID[$owner]:-} || ! -d /proc/${PID[$owner]} ]]; then
		log "skip $t: $owner not running"
		printf '| %s | - | not run | | | | | | | |\n' "$t" >>"$RESULTS"
		return
	fi
	pid=${PID[$owner]}
	log "$t: warm-up $WARMUP at c=16 (load $(cut -d' ' -f1-3 /proc/loadavg))"
	run_wrk "$t" 16 "$WARMUP"
	for c in $CONCURRENCY; do
		sleep 2
		log "$t: c=$c for $DURATION"
		run_wrk "$t" "$c" "$DURATION"
		r=$R
		log "  $r"
		read -r main kids _ <<<"$(rss_mib "$pid")"
		((kids > 0)) && main="$main (+$kids)"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$c" \
			"$(field "$r" rps)" "$(field "$r" p50_ms)" "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" \
			"$(field "$r" max_ms)" "$(field "$r" non2xx)" "$(field "$r" errors)" "$main" >>"$RESULTS"
	done
}

# ---------------------------------------------------------------- flowbot under wrk
pool_size() { # conns -> conversations in the round-robin pool for that level
	local p=$((POOL_FACTOR * $1))
	((p < POOL_MIN)) && p=$POOL_MIN
	echo "$p"
}

max_pool() { # levels... -> the largest pool any of them (or the c=16 warm-up) uses
	local c m
	m=$(pool_size 16)
	for c in "$@"; do (($(pool_size "$c") > m)) && m=$(pool_size "$c"); done
	echo "$m"
}

stat_fields() { # pid -> the fields of /proc/pid/stat after "(comm)": 1=state ... 12=utime 13=stime 14=cutime 15=cstime
	local s
	s=$(cat /proc/"$1"/stat 2>/dev/null) || { echo 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0; return; }
	echo "${s##*) }"
}

cpu_ticks() { # pid -> utime+stime (clock ticks) of pid
	local f
	read -ra f <<<"$(stat_fields "$1")"
	echo $((f[11] + f[12]))
}

children_ticks() { # -> cutime+cstime of this shell: CPU of its waited-for children (wrk)
	local f
	read -ra f <<<"$(stat_fields $$)"
	echo $((f[13] + f[14]))
}

status_mib() { # pid key -> that /proc/pid/status line in MiB
	awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' /proc/"$1"/status 2>/dev/null || true
}

us_per() { # ticks requests -> µs per request
	awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.0f", t / hz / n * 1e6; else print "-" }'
}

# prepare_flowbot LOG ARGS...: `flowbot-load prepare -out $CONVS ARGS...` (outside any measured time)
prepare_flowbot() {
	local out=$1
	shift
	rm -f "$CONVS"
	run_load "$out" prepare -url "http://127.0.0.1:$FLOWBOT_PORT" -upstream "https://127.0.0.1:$UPSTREAM_TLS_PORT" \
		-out "$CONVS" "$@"
}

machine_ticks() { # -> "busy total" clock ticks of all CPUs since boot (/proc/stat)
	awk '$1 == "cpu" {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat
}

# run_flowbot_wrk PID CONNS DURATION: wrk with flowbot-turn.lua over the first
# pool_size(CONNS) conversations of $CONVS. Sets R (the RESULT line), and
# SRV_TICKS / WRK_TICKS / UP_TICKS, the CPU time flowbot, wrk and the
# upstream used during the run, and BUSY_PCT, how busy the machine was.
run_flowbot_wrk() {
	local pid=$1 c=$2 d=$3 out=$WORK/logs/wrk-last.txt s0 w0 u0 m0 m1
	s0=$(cpu_ticks "$pid")
	w0=$(children_ticks)
	u0=$(cpu_ticks "${PID[upstream]}")
	read -ra m0 <<<"$(machine_ticks)"
	FLOWBOT_CONVS=$CONVS FLOWBOT_POOL=$(pool_size "$c") \
		wrk -t1 -c"$c" -d"$d" --timeout 30s -s "$FLOWBOT_LUA" "http://127.0.0.1:$FLOWBOT_PORT/" >"$out" 2>&1 &
	LOAD_PID=$!
	wait "$LOAD_PID" || true
	LOAD_PID=
	SRV_TICKS=$(($(cpu_ticks "$pid") - s0))
	WRK_TICKS=$(($(children_ticks) - w0))
	UP_TICKS=$(($(cpu_ticks "${PID[upstream]}") - u0))
	read -ra m1 <<<"$(machine_ticks)"
	BUSY_PCT=$(awk -v b="$((m1[0] - m0[0]))" -v t="$((m1[1] - m0[1]))" 'BEGIN{printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
	R=$(grep '^RESULT' "$out" || echo "RESULT failed")
	grep -E '^first bad reply|Socket errors|Non-2xx' "$out" | sed 's/^/  wrk: /' >&2 || true
}

# flowbot_wrk_levels TARGET PID ROWS DURATION WARMUP LEVELS...: the peers'
# procedure (warm-up at c=16, then 2 s idle before each level) with wrk on
# the prepared conversations. Appends one compare-table row per level to
# ROWS (bad replies go in the non-2xx column) and the CPU/RSS figures to
# $WORK/results/flowbot-levels.txt.
flowbot_wrk_levels() {
	local t=$1 pid=$2 rows=$3 d=$4 warm=$5 c r n bad line
	shift 5
	if [[ ! $warm =~ ^0+[a-z]*$ ]]; then
		log "$t: warm-up $warm at c=16 (load $(cut -d' ' -f1-3 /proc/loadavg))"
		run_flowbot_wrk "$pid" 16 "$warm"
		log "  warm-up $R"
	fi
	for c in "$@"; do
		sleep 2
		log "$t: c=$c for $d, pool $(pool_size "$c") conversations"
		run_flowbot_wrk "$pid" "$c" "$d"
		r=$R
		log "  $r"
		n=$(field "$r" requests)
		bad=$(field "$r" bad)
		[[ ${bad:-x} == 0 ]] || log "  WARNING: $t c=$c: bad replies ($bad); see $WORK/logs/wrk-last.txt"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$c" \
			"$(field "$r" rps)" "$(field "$r" p50_ms)" "$(field "$r" p90_ms)" "$(field "$r" p99_ms)" \
			"$(field "$r" max_ms)" "$bad" "$(field "$r" errors)" "$(status_mib "$pid" VmHWM | cut -d. -f1)" >>"$rows"
		line="$t c=$c pool=$(pool_size "$c") duration=$d ${r#RESULT }"
		line+=" server_cpu_s=$(awk -v t="$SRV_TICKS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t/hz}')"
		line+=" server_us_per_turn=$(us_per "$SRV_TICKS" "${n:-0}")"
		line+=" wrk_cpu_s=$(awk -v t="$WRK_TICKS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t/hz}')"
		line+=" wrk_us_per_turn=$(us_per "$WRK_TICKS" "${n:-0}")"
		line+=" upstream_us_per_turn=$(us_per "$UP_TICKS" "${n:-0}") machine_busy_pct=$BUSY_PCT"
		line+=" rss_mib=$(status_mib "$pid" VmRSS) anon_mib=$(status_mib "$pid" RssAnon) peak_mib=$(status_mib "$pid" VmHWM)"
		line+=" loadavg=$(cut -d' ' -f1 /proc/loadavg)"
		echo "$line" >>"$WORK/results/flowbot-levels.txt"
		log "  server $(us_per "$SRV_TICKS" "${n:-0}") µs/turn, wrk $(us_per "$WRK_TICKS" "${n:-0}") µs/turn, upstream $(us_per "$UP_TICKS" "${n:-0}") µs/turn; machine ${BUSY_PCT}% busy"
	done
}

bench_flowbot() {
	local pid=${PID[flowbot]} levels
	read -ra levels <<<"$CONCURRENCY"
	log "flowbot: prepare $(max_pool "${levels[@]}") conversations (outside the measured time)"
	if ! prepare_flowbot "$WORK/logs/flowbot-prepare.txt" -conversations "$(max_pool "${levels[@]}")"; then
		printf '| flowbot | - | failed (see logs/flowbot-prepare.txt) | | | | | | | |\n' >>"$RESULTS"
		return
	fi
	flowbot_wrk_levels flowbot "$pid" "$RESULTS" "$DURATION" "$WARMUP" "${levels[@]}"
}

# ---------------------------------------------------------------- phases
phase_compare() {
	local t idle_fb
	{
		echo "# flowbot vs chatbot-flow peers — $STAMP"
		echo
		echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
		echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "- wrk targets: wrk -t1 -cN -d$DURATION --timeout 30s, keep-alive, after a discarded $WARMUP warm-up at c=16"
		echo "- flowbot: the same wrk with bench/load/flowbot-turn.lua, round-robin over max($POOL_MIN, $POOL_FACTOR×N) conversations that \`flowbot-load prepare\` started before (outside the measured time); a reply is good only if 200 with the success text, bad replies are in the non-2xx column; every turn is stored (journal write + fdatasync) before the reply"
		echo "- versions: $(go version | awk '{print $3}'); flowbot $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'); Node-RED $(installed_version "$NODERED_PREFIX" node-red) on node $(node --version); $(wrk --version 2>&1 | head -1 | awk '{print $1, $2}')"
		echo
		echo "| target | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | sock errs | peak RSS MiB |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	} >"$RESULTS"
	for t in $TARGETS; do
		case $t in
		flowbot)
			start_flowbot flowbot "$WORK/data-compare"
			sleep 1
			idle_fb=$(rss_mib "${PID[flowbot]}" | cut -d' ' -f3)
			bench_flowbot
			;;
		*) bench_wrk_target "$t" ;;
		esac
	done
	{
		echo
		echo "peak RSS = VmHWM of the serving process since its start, read after each level."
		printf 'RSS right after start (MiB): upstream %s, nodered %s, flowbot %s\n' "${RSS_IDLE[upstream]:-?}" "${RSS_IDLE[nodered]:-?}" "${idle_fb:-?}"
		if [[ -s $WORK/results/flowbot-levels.txt ]]; then
			printf 'flowbot CPU per turn, server / wrk (µs, from /proc):'
			awk '$1 == "flowbot" { split($2, c, "="); s = w = ""
				for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "server_us_per_turn") s = kv[2]; if (kv[1] == "wrk_us_per_turn") w = kv[2] }
				printf " c=%s %s / %s;", c[2], s, w }' "$WORK/results/flowbot-levels.txt"
			echo
		fi
		echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	} >>"$RESULTS"
	cat "$RESULTS" >&2
}

phase_flowsize() {
	[[ -n ${PID[flowbot]:-} ]] || start_flowbot flowbot "$WORK/data-compare"
	log "flow sizes $FLOW_SIZES, $FLOW_REPEATS repeats"
	run_load "$WORK/logs/flowbot-flowsize.txt" -url "http://127.0.0.1:$FLOWBOT_PORT" \
		-upstream "https://127.0.0.1:$UPSTREAM_TLS_PORT" -concurrency "" -flow-sizes "$FLOW_SIZES" \
		-flow-repeats "$FLOW_REPEATS" -pid "${PID[flowbot]}" -json "$WORK/results/flowbot-flowsize.json" -label "flowsize $STAMP" || true
}

phase_scale() {
	local stored=0 step delta data=$WORK/data-scale levels pid
	read -ra levels <<<"${SCALE_CONCURRENCY//,/ }"
	stop_name flowbot
	start_flowbot flowbot-scale "$data"
	pid=${PID[flowbot-scale]}
	: >"$WORK/results/scale.md"
	for step in $SCALE_STEPS; do
		delta=$((step - stored))
		((delta > 0)) || continue
		log "scale: preload $delta more waiting conversations (to $step), prepare $(max_pool "${levels[@]}") more, then wrk c=${levels[*]} for $SCALE_DURATION"
		if prepare_flowbot "$WORK/logs/flowbot-scale-$step.txt" -preload "$delta" -conns 32 -pid "$pid" \
			-conversations "$(max_pool "${levels[@]}")"; then
			flowbot_wrk_levels "flowbot ($step stored)" "$pid" "$WORK/results/scale.md" "$SCALE_DURATION" 0s "${levels[@]}"
		else
			printf '| flowbot (%s stored) | - | failed (see logs/flowbot-scale-%s.txt) | | | | | | | |\n' "$step" "$step" >>"$WORK/results/scale.md"
		fi
		stored=$step
		echo "$step stored: db $(du -m "$data/flowbot.db" | cut -f1) MiB, server $(rss_mib "$pid" | awk '{print "peak " $1 " MiB, now " $3 " MiB"}')" \
			>>"$WORK/results/scale-db.txt"
	done
	stop_name flowbot-scale
}

# waiting: a fresh flowbot, WAITING conversations started and left waiting
# for input, no turns: RSS (and anonymous RSS, i.e. heap) before and after.
phase_waiting() {
	local data=$WORK/data-waiting
	stop_name flowbot
	start_flowbot flowbot-waiting "$data"
	sleep 1
	log "waiting: $WAITING conversations waiting for input on a fresh flowbot"
	run_load "$WORK/logs/flowbot-waiting.txt" -url "http://127.0.0.1:$FLOWBOT_PORT" \
		-upstream "https://127.0.0.1:$UPSTREAM_TLS_PORT" -concurrency "" -preload "$WAITING" -preload-conns 32 \
		-pid "${PID[flowbot-waiting]}" -json "$WORK/results/flowbot-waiting.json" -label "waiting $STAMP" || true
	# Read memory once the last starts have been checkpointed out of the
	# journal overlay (it is frozen at least every 0.5 s).
	sleep 2
	echo "$WAITING waiting (2 s after the last start): db $(du -m "$data/flowbot.db" | cut -f1) MiB; $(grep -E '^(VmRSS|RssAnon|RssFile|VmHWM)' /proc/"${PID[flowbot-waiting]}"/status | tr -s ' \t' ' ' | tr '\n' ';')" \
		>>"$WORK/results/waiting.txt"
	stop_name flowbot-waiting
}

phase_profile() {
	local data=$WORK/data-profile out=$WORK/results
	stop_name flowbot
	rm -rf "$data"
	port_free "$FLOWBOT_PORT" && port_free "$PPROF_PORT" || {
		log "port $FLOWBOT_PORT or $PPROF_PORT busy"
		return 1
	}
	start_bg flowbot-profiled "$WORK/bin/flowbot" "$WORK/logs/flowbot-profiled.log" \
		env FLOWBOT_ADMIN_TOKEN="$ADMIN_TOKEN" SSL_CERT_FILE="$CA" "${FLOWBOT_ENV_ARGS[@]}" \
		"$WORK/bin/flowbot" --addr "127.0.0.1:$FLOWBOT_PORT" --data "$data" --allow-private-networks \
		--rate-limit-ip 0 --rate-limit-conversation 0 --log-level warn --pprof-addr "127.0.0.1:$PPROF_PORT"
	wait_http "http://127.0.0.1:$FLOWBOT_PORT/healthz" 30
	# The measured configuration: wrk over a prepared pool, as in compare.
	prepare_flowbot "$WORK/logs/flowbot-profiled-prepare.txt" -conversations "$(pool_size "$PROFILE_CONCURRENCY")" || {
		stop_name flowbot-profiled
		return 1
	}
	log "profile: wrk c=$PROFILE_CONCURRENCY over $(pool_size "$PROFILE_CONCURRENCY") conversations, CPU profile for ${PROFILE_SECONDS}s"
	FLOWBOT_CONVS=$CONVS FLOWBOT_POOL=$(pool_size "$PROFILE_CONCURRENCY") \
		wrk -t1 -c"$PROFILE_CONCURRENCY" -d"$((PROFILE_SECONDS + 8))s" --timeout 30s -s "$FLOWBOT_LUA" \
		"http://127.0.0.1:$FLOWBOT_PORT/" >"$WORK/logs/flowbot-profiled-load.txt" 2>&1 &
	LOAD_PID=$!
	sleep 5
	curl -fsS -o /dev/null "http://127.0.0.1:$PPROF_PORT/debug/pprof/block?debug=0" || true
	curl -fsS -o "$out/cpu.pb.gz" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$PROFILE_SECONDS" || true
	curl -fsS -o "$out/block.pb.gz" "http://127.0.0.1:$PPROF_PORT/debug/pprof/block" || true
	curl -fsS -o "$out/mutex.pb.gz" "http://127.0.0.1:$PPROF_PORT/debug/pprof/mutex" || true
	wait "$LOAD_PID" || true
	LOAD_PID=
	cat "$WORK/logs/flowbot-profiled-load.txt" >&2
	grep '^RESULT' "$WORK/logs/flowbot-profiled-load.txt" >"$out/flowbot-profiled.txt" || true
	if [[ -s $out/cpu.pb.gz ]]; then
		go tool pprof -top -nodecount=40 "$WORK/bin/flowbot" "$out/cpu.pb.gz" >"$out/cpu-top.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=80 "$WORK/bin/flowbot" "$out/cpu.pb.gz" >"$out/cpu-top-cum.txt" 2>/dev/null || true
		go tool pprof -top -cum -nodecount=40 "$WORK/bin/flowbot" "$out/block.pb.gz" >"$out/block-top-cum.txt" 2>/dev/null || true
	fi
	stop_name flowbot-profiled
}

# ---------------------------------------------------------------- main
reap_stale
command -v go >/dev/null || { log "go not found"; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { log "node/npm not found"; exit 1; }
install_wrk
[[ $TARGETS == *nodered* ]] && install_nodered
build_all

declare -A RSS_IDLE=()
start_upstream
RSS_IDLE[upstream]=$(rss_mib "${PID[upstream]}" | cut -d' ' -f3)
if [[ $PHASES == *compare* && $TARGETS == *nodered* ]]; then
	start_nodered
	RSS_IDLE[nodered]=$(rss_mib "${PID[nodered]}" | cut -d' ' -f3)
	check_turn nodered "http://127.0.0.1:$NODERED_PORT/turn"
	check_turn "nodered (https upstream)" "http://127.0.0.1:$NODERED_PORT/turn-tls"
fi

for ph in $PHASES; do
	case $ph in
	compare) phase_compare ;;
	flowsize) phase_flowsize ;;
	scale) stop_name nodered; phase_scale ;;
	waiting) stop_name nodered; phase_waiting ;;
	profile) stop_name nodered; phase_profile ;;
	*) log "unknown phase $ph" ;;
	esac
done

mkdir -p "$RESULTS_DIR"
cp "$WORK"/results/* "$RESULTS_DIR"/
log "results in $RESULTS_DIR"
