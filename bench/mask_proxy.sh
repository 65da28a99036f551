#!/usr/bin/env bash
# mask_proxy.sh: what masking costs the production path (issue 4): wrk
# through `umbra proxy` (one worker, CPU 0) to nginx (production and shadow,
# CPU 1 with wrk), every request mirrored (ratio 1, GET and POST), with
# masking on and off, runs interleaved so drift hits both alike. Requests
# carry what masking is for: a 1 KiB JSON body with emails, a card number,
# a token and a phone number (POST), and an email in the query (GET), half
# each. Target: production req/s with masking on >= 0.9x masking off.
#
#   RUNS=5 bench/mask_proxy.sh        (make bench sets UMBRA)
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
# email in the query.
cat >"$OUT/mix.lua" <<'EOF'
local body = '{"user":{"name":"Ada Lovelace","email":"ada.lovelace@example.com",' ..
  '"phone":"+44 20 7946 0958","address":"12 St James Square, London"},' ..
  '"payment":{"card":"4111 1111 1111 1111","expiry":"12/29","cvv":"123"},' ..
  '"session":{"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},' ..
  '"items":[' .. string.rep('{"sku":"A-1001","qty":2,"note":"gift wrap, call bob@example.org"},', 8) ..
  '{"sku":"Z-9","qty":1}]}'
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("POST", "/api/orders", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/api/search?q=shoes&email=carol%40example.com&page=2", nil, nil)
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
EOF
}
proxy_cfg on true
proxy_cfg off false

run_one() { # on|off
	taskset -c 0 "$UMBRA" proxy --config "$OUT/$1.yaml" --log-level error &
	local pp=$!
	wait_port "$PROXY_PORT"
	taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECONDS_EACH}s" -s "$OUT/mix.lua" \
		"http://127.0.0.1:$PROXY_PORT/" | awk '/Requests\/sec/ {print $2}' >>"$OUT/rps.$1"
	kill "$pp"
	wait "$pp" 2>/dev/null
}
for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS ..." >&2
	if [ $((i % 2)) = 1 ]; then run_one off; run_one on; else run_one on; run_one off; fi
done
off=$(median <"$OUT/rps.off")
on=$(median <"$OUT/rps.on")
r=$(ratio "$on" "$off")
printf 'production req/s through umbra proxy (1 worker, every request mirrored, %d runs, medians):\n' "$RUNS"
printf '  masking off %10.1f   (runs: %s)\n' "$off" "$(tr '\n' ' ' <"$OUT/rps.off")"
printf '  masking on  %10.1f   (runs: %s)\n' "$on" "$(tr '\n' ' ' <"$OUT/rps.on")"
printf '  on / off: %s (target >= 0.9): %s\n' "$r" \
	"$(awk -v r="$r" 'BEGIN {print (r >= 0.9 ? "met" : "MISSED")}')"
