#!/usr/bin/env bash
# mask_proxy.sh: what masking costs the production path (issue 4): wrk
# through `umbra proxy` (one worker, CPU 0) to nginx (production and shadow,
# CPU 1 with wrk), every request mirrored (ratio 1, GET and POST), with
# masking on and off, runs interleaved so drift hits both alike. Requests
# carry what masking is for: a 1 KiB JSON body with emails, a card number,
# a token and a phone number (POST), and an email in the query (GET), half
# each, of one user (POOL=1) or of users drawn from a pool. Target:
# production req/s with masking on >= 0.9x masking off.
# Also printed: the proxy's CPU time per request (user + system), which a
# shared, noisy machine disturbs far less than req/s; on a dedicated core
# the req/s ratio is the inverse of its ratio.
#
#   RUNS=5 [POOLS="1 10000"] [MEMO=1024] bench/mask_proxy.sh
#   (make bench sets UMBRA; MEMO is mask.memo)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
UMBRA=${UMBRA:-$ROOT/build/umbra}
RUNS=${RUNS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
CONNS=${CONNS:-32}
OUT=${BENCH_OUT:-/tmp/umbra-bench-maskproxy.$$}
PROD_PORT=${PROD_PORT:-18195}
SHADOW_PORT=${SHADOW_PORT:-18196}
PROXY_PORT=${PROXY_PORT:-18197}
mkdir -p "$OUT"
for t in nginx wrk taskset; do
	command -v "$t" >/dev/null || { echo "mask_proxy.sh: $t is needed" >&2; exit 1; }
done

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$OUT"
}
trap cleanup EXIT

. "$HERE/common.bash"

cat >"$OUT/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $OUT/nginx.pid;
error_log $OUT/nginx.err warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_buffer_size 64k;
	server {
		listen 127.0.0.1:$PROD_PORT;
		location / { return 200 '{"ok":true,"items":[1,2,3]}'; }
	}
	server {
		listen 127.0.0.1:$SHADOW_PORT;
		location / { return 200 '{"ok":true,"items":[1,2,3]}'; }
	}
}
EOF
taskset -c 1 nginx -c "$OUT/nginx.conf" -p "$OUT" &
PIDS+=($!)
wait_port "$PROD_PORT"
wait_port "$SHADOW_PORT"

# Half POSTs with a JSON body full of personal data, half GETs with an
# email in the query. Each request is one of POOL users (its name,
# e-mail, phone, card, token, friends' e-mails in the item notes):
# POOL=1 repeats one body, which the masker's value memo answers almost
# whole; with a large POOL most sensitive values are new to it.
cat >"$OUT/mix.lua" <<'EOF'
local pool = tonumber(os.getenv("POOL") or "1")
local function card(u) -- 16 Luhn-valid digits starting with 4
  local d = string.format("4%014d", (u * 7919) % 100000000000000)
  local sum = 0
  for k = 1, 15 do
    local v = tonumber(d:sub(16 - k, 16 - k))
    if k % 2 == 1 then v = v * 2; if v > 9 then v = v - 9 end end
    sum = sum + v
  end
  d = d .. tostring((10 - sum % 10) % 10)
  return d:sub(1, 4) .. " " .. d:sub(5, 8) .. " " .. d:sub(9, 12) .. " " .. d:sub(13, 16)
end
local function body(u)
  local items = {}
  for k = 1, 8 do
    items[k] = string.format('{"sku":"A-%d","qty":2,"note":"gift wrap, call friend%d@example.org"},',
      1000 + k, (u * 31 + k) % pool)
  end
  return string.format('{"user":{"name":"User %d","email":"user%d@example.com",' ..
    '"phone":"+44 20 7946 %04d","address":"%d St James Square, London"},' ..
    '"payment":{"card":"%s","expiry":"12/29","cvv":"%03d"},' ..
    '"session":{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P%08d"},' ..
    '"items":[%s{"sku":"Z-9","qty":1}]}',
    u, u, u % 10000, u % 100, card(u), u % 1000, u, table.concat(items))
end
-- Every user's two requests made once (in init: wrk.format needs the
-- thread's Host), so that wrk (on CPU 1 with the backends) spends
-- nothing per request on building them.
local reqs = {}
function init(args)
  for u = 0, pool - 1 do
    reqs[2 * u + 1] = wrk.format("GET",
      string.format("/api/search?q=shoes&email=user%d%%40example.com&page=2", u), nil, nil)
    reqs[2 * u + 2] = wrk.format("POST", "/api/orders",
      {["Content-Type"] = "application/json"}, body(u))
  end
end
local n = 0
request = function()
  n = n + 1
  return reqs[2 * math.random(0, pool - 1) + 1 + n % 2]
end
EOF

proxy_cfg() { # NAME MASK(true|false)
	cat >"$OUT/$1.yaml" <<EOF
service: bench
production:
  upstreams: [127.0.0.1:$PROD_PORT]
shadow:
  upstreams: [127.0.0.1:$SHADOW_PORT]
  ratio: 1
listen:
  address: 127.0.0.1:$PROXY_PORT
  workers: 1
mirror:
  methods: [GET, POST]
mask:
  enabled: $2
  key_file: $OUT/mask.key
  memo: ${MEMO:-1024}
EOF
}
proxy_cfg on true
proxy_cfg off false

run_one() { # on|off
	taskset -c 0 "$UMBRA" proxy --config "$OUT/$1.yaml" --log-level error &
	local pp=$!
	wait_port "$PROXY_PORT"
	local t0
	t0=$(cpu_ticks "$pp")
	taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" -s "$OUT/mix.lua" \
		"http://127.0.0.1:$PROXY_PORT/" >"$OUT/wrk.out"
	local dt hz
	dt=$(($(cpu_ticks "$pp") - t0))
	hz=$(getconf CLK_TCK)
	if grep -q 'Non-2xx' "$OUT/wrk.out"; then
		echo "mask_proxy.sh: masking $1: responses other than 2xx, the run is void:" >&2
		cat "$OUT/wrk.out" >&2
		kill "$pp"
		exit 1
	fi
	awk '/Requests\/sec/ {print $2}' "$OUT/wrk.out" >>"$OUT/rps.$1"
	awk -v t="$dt" -v hz="$hz" '/requests in/ {printf "%.2f\n", t / hz * 1e6 / $1}' \
		"$OUT/wrk.out" >>"$OUT/cpu.$1"
	kill "$pp"
	wait "$pp" 2>/dev/null
}
POOLS=${POOLS:-1 10000}
for pool in $POOLS; do
	rm -f "$OUT"/rps.* "$OUT"/cpu.*
	for i in $(seq 1 "$RUNS"); do
		echo "pool $pool: run $i/$RUNS ..." >&2
		if [ $((i % 2)) = 1 ]; then
			POOL=$pool run_one off
			POOL=$pool run_one on
		else
			POOL=$pool run_one on
			POOL=$pool run_one off
		fi
	done
	off=$(median <"$OUT/rps.off")
	on=$(median <"$OUT/rps.on")
	r=$(ratio "$on" "$off")
	coff=$(median <"$OUT/cpu.off")
	con=$(median <"$OUT/cpu.on")
	# Each run's on and off ran back to back: the median of their
	# ratios is steadier than the ratio of medians when the host's
	# speed drifts between runs (it does here, by 20% and more).
	pr=$(paste "$OUT/rps.on" "$OUT/rps.off" | awk '{printf "%.3f\n", $1 / $2}' | median)
	pc=$(paste "$OUT/cpu.off" "$OUT/cpu.on" | awk '{printf "%.3f\n", $1 / $2}' | median)
	printf 'users in the pool: %d; production req/s through umbra proxy (1 worker, every request mirrored, %d runs, medians):\n' "$pool" "$RUNS"
	printf '  masking off %10.1f req/s %7.2f CPU us/req  (runs: %s)\n' "$off" "$coff" "$(tr '\n' ' ' <"$OUT/rps.off")"
	printf '  masking on  %10.1f req/s %7.2f CPU us/req  (runs: %s)\n' "$on" "$con" "$(tr '\n' ' ' <"$OUT/rps.on")"
	printf '  on / off: %s (target >= 0.9): %s; CPU per request off / on: %s\n' "$r" \
		"$(awk -v r="$r" 'BEGIN {print (r >= 0.9 ? "met" : "MISSED")}')" "$(ratio "$coff" "$con")"
	printf '  median of the runs'"'"' own ratios: on / off %s, CPU per request off / on %s\n' "$pr" "$pc"
done
