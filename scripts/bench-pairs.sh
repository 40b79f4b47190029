# shellcheck shell=bash
# bench-pairs.sh - paired measurement for the bench scripts (source it after
# ../shared/bench/lib.sh; do not run it).
# All servers run side by side for the whole benchmark (an idle server costs next to
# nothing), and each row is measured on them back to back, REPS times, rotating which one
# goes first. Drift of a shared machine (other load, CPU frequency, page cache) then hits
# both sides of a pair alike, and the ratio reported is the median of the per-pair ratios
# with its range, so one run says how settled it is.

declare -A PAIR_PID PAIR_SID PAIR_PORT PAIR_RPS PAIR_CPU PAIR_RATIO PAIR_CPU_RATIO
PAIR_SERVERS=()
PAIR_HZ=$(getconf CLK_TCK)

# pair_start name 'cmd with {port}' logfile: starts a server and keeps it running.
pair_start() {
  lib_start "$2" "$3"
  PAIR_PID[$1]=$SRV_PID PAIR_SID[$1]=$SRV_SID PAIR_PORT[$1]=$SRV_PORT
  PAIR_SERVERS+=("$1")
  SRV_PID='' SRV_SID='' SRV_PORT=''
}

pair_port() { echo "${PAIR_PORT[$1]}"; }

# Stops every server pair_start started (by its session id, as lib_stop does).
pair_stop_all() {
  local s
  for s in "${PAIR_SERVERS[@]}"; do
    [ -n "${PAIR_SID[$s]:-}" ] || continue
    SRV_PID=${PAIR_PID[$s]} SRV_SID=${PAIR_SID[$s]} SRV_PORT=${PAIR_PORT[$s]}
    lib_stop
    PAIR_SID[$s]=
  done
}

# pair_row key requests fn args...: runs `fn PORT args...` (it prints requests per second)
# on every server, REPS times. Records each rate, each server's CPU microseconds per
# request (all its threads, from /proc) and, per rep, the ratios node/redis. Servers named
# in PAIR_SKIP sit this row out.
pair_row() {
  local key=$1 requests=$2 rep i n=${#PAIR_SERVERS[@]} s t0 t1 rate
  shift 2
  declare -A got=() ticks=()
  for ((rep = 0; rep < REPS; rep++)); do
    for ((i = 0; i < n; i++)); do
      s=${PAIR_SERVERS[$(((i + rep) % n))]}
      [[ " ${PAIR_SKIP:-} " != *" $s "* ]] || continue
      t0=$(lib_session_ticks "${PAIR_SID[$s]}")
      rate=$("$1" "$(pair_port "$s")" "${@:2}")
      t1=$(lib_session_ticks "${PAIR_SID[$s]}")
      [ -n "$rate" ] || { echo "pair_row: no rate from $s for $key" >&2; rate=0; }
      got[$s]=$rate
      ticks[$s]=$(echo "($t1 - $t0) * 1000000 / $PAIR_HZ / $requests" | bc -l)
      PAIR_RPS[$s,$key]+="$rate "
      PAIR_CPU[$s,$key]+="${ticks[$s]} "
    done
    if [ -n "${got[redis]:-}" ] && [ -n "${got[node]:-}" ] && [ "${got[redis]}" != 0 ]; then
      PAIR_RATIO[$key]+="$(echo "${got[node]} / ${got[redis]}" | bc -l) "
      PAIR_CPU_RATIO[$key]+="$(echo "${ticks[node]} / (${ticks[redis]} + 0.000001)" | bc -l) "
    fi
  done
}

pair_median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'; }
pair_min() { tr ' ' '\n' | grep -v '^$' | sort -g | head -1; }
pair_max() { tr ' ' '\n' | grep -v '^$' | sort -g | tail -1; }

pair_header() { # label-width
  printf "%-${1}s %11s %11s %6s %11s %9s %9s %6s\n" measure redis cache-node ratio range 'cpu redis' 'cpu node' ratio
}

# pair_line width label key: medians of each server, the median per-pair ratio and its
# range, and the median CPU microseconds per request with their median per-pair ratio.
pair_line() {
  local w=$1 label=$2 key=$3
  printf "%-${w}s %11.0f %11.0f %6.2f %5.2f-%-5.2f %9.2f %9.2f %6.2f\n" "$label" \
    "$(echo "${PAIR_RPS[redis,$key]}" | pair_median)" \
    "$(echo "${PAIR_RPS[node,$key]}" | pair_median)" \
    "$(echo "${PAIR_RATIO[$key]}" | pair_median)" \
    "$(echo "${PAIR_RATIO[$key]}" | pair_min)" \
    "$(echo "${PAIR_RATIO[$key]}" | pair_max)" \
    "$(echo "${PAIR_CPU[redis,$key]}" | pair_median)" \
    "$(echo "${PAIR_CPU[node,$key]}" | pair_median)" \
    "$(echo "${PAIR_CPU_RATIO[$key]}" | pair_median)"
}
