# common.bash: shell helpers the benchmark scripts source (not a benchmark
# itself: `make bench` runs bench/*.sh only).
#
#   median           the median of the numbers on stdin, "nan" if none
#   ratio A B        A / B to 3 decimals, "nan" when B is 0
#   wait_port PORT   until something accepts on 127.0.0.1:PORT (5 s), or
#                    exit 1 naming the script
#   cpu_ticks PID    user + system CPU time of PID so far, in clock ticks

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0) print "nan"; else printf "%.3f", a/b}'; }
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$(basename "$0"): nothing on :$1" >&2
	exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
