/*
 * netns.c: the isolated shadow's network. The shadow's replicas share one
 * network namespace, umbra-<service>, with a loopback and one end of a
 * veth pair; umbra's end is in the host namespace:
 *
 *     host: umbXXXXXXXXh  169.254.213.1/30  <-->  umbXXXXXXXXs 169.254.213.2/30
 * :ns
 *
 * Services usually bind 127.0.0.1:{port}; inside the namespace a DNAT
 * rule (with route_localnet) sends what arrives on the veth address to
 * loopback, so umbra (proxy, health checks) reaches the shadow at
 * 169.254.213.2:{port} without any change to its command or config.
 *
 * What leaves the shadow is filtered in the host namespace, where the
 * shadow cannot change it (its bounding set also loses CAP_NET_ADMIN and
 * CAP_SYS_ADMIN): replies to connections umbra opened pass; new
 * connections pass only to shadow.allow_outbound destinations (to this
 * host, or beyond it through masquerading); everything else is rejected
 * at once (TCP reset / ICMP admin-prohibited), so calls to payment
 * providers or databases fail fast instead of leaving the host.
 *
 * Built with iproute2 (`ip`) and nftables (`nft`), run as programs: the
 * same commands an operator would type, visible with `ip netns` and
 * `nft list ruleset`. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
 */
#include "provision/prov_int.h"

#include "base/cidr.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

/* FNV-1a: a stable short tag for interface names (IFNAMSIZ is 16). */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int prov__net_plan(prov_net_t *n, const char *service, const char *subnet,
		   buf_t *err)
{
	memset(n, 0, sizeof(*n));
	n->ns_fd = -1;
	n->fwd_prev = -1;
	cidr_t c;
	const char *why = "not IPv4";
	if (cidr_parse(subnet, &c, &why) || c.family != AF_INET ||
	    c.prefix > 30) {
		buf_printf(err, "shadow.netns_subnet: bad subnet \"%s\": %s",
			   subnet, why);
		return ERR_CONFIG;
	}
	uint32_t a = ((uint32_t)c.addr[0] << 24) | ((uint32_t)c.addr[1] << 16) |
		     ((uint32_t)c.addr[2] << 8) | c.addr[3];
	snprintf(n->host_ip, sizeof(n->host_ip), "%u.%u.%u.%u", (a + 1) >> 24,
		 ((a + 1) >> 16) & 255, ((a + 1) >> 8) & 255, (a + 1) & 255);
	snprintf(n->ns_ip, sizeof(n->ns_ip), "%u.%u.%u.%u", (a + 2) >> 24,
		 ((a + 2) >> 16) & 255, ((a + 2) >> 8) & 255, (a + 2) & 255);
	n->prefix = c.prefix;
	uint32_t h = fnv1a(service);
	snprintf(n->host_if, sizeof(n->host_if), "umb%08xh", h);
	snprintf(n->ns_if, sizeof(n->ns_if), "umb%08xs", h);
	snprintf(n->ns, sizeof(n->ns), "umbra-%s", service);
	snprintf(n->table, sizeof(n->table), "umbra_%s", service);
	for (char *p = n->table; *p; p++)
		if (*p == '-' || *p == '.')
			*p = '_';
	return 0;
}

/* The nft match for one allow-list entry ("ip daddr 10.0.0.0/8 ..."). */
static void allow_expr(const cidr_t *c, buf_t *out)
{
	char t[CIDR_TEXT_MAX];
	buf_printf(out, "%s daddr %s", c->family == AF_INET ? "ip" : "ip6",
		   cidr_format(c, t));
	if (c->port)
		buf_printf(out, " meta l4proto { tcp, udp } th dport %u",
			   c->port);
}

int prov__net_rules(const prov_net_t *n, const config_strv_t *allow,
		    bool forward, buf_t *host, buf_t *ns, buf_t *err)
{
	buf_t acc = BUF_INIT;
	for (size_t i = 0; allow && i < allow->n; i++) {
		cidr_t c;
		const char *why;
		if (cidr_parse(allow->v[i], &c, &why)) {
			buf_printf(err,
				   "shadow.allow_outbound: bad entry "
				   "\"%s\": %s",
				   allow->v[i], why);
			buf_free(&acc);
			return ERR_CONFIG;
		}
		buf_printf(&acc, "\t\tiifname \"%s\" ", n->host_if);
		allow_expr(&c, &acc);
		buf_puts(&acc, " accept\n");
	}
	const char *h = n->host_if;
	buf_printf(host, "table inet %s {\n", n->table);
	buf_printf(
	    host,
	    "\tchain input {\n"
	    "\t\ttype filter hook input priority filter; policy accept;\n"
	    "\t\tiifname \"%s\" ct state established,related accept\n"
	    "%s"
	    "\t\tiifname \"%s\" meta l4proto tcp reject with tcp reset\n"
	    "\t\tiifname \"%s\" reject with icmpx type admin-prohibited\n"
	    "\t}\n",
	    h, acc.data ? acc.data : "", h, h);
	buf_printf(
	    host,
	    "\tchain forward {\n"
	    "\t\ttype filter hook forward priority filter; policy accept;\n"
	    "\t\toifname \"%s\" ct state established,related accept\n"
	    "%s"
	    "\t\tiifname \"%s\" meta l4proto tcp reject with tcp reset\n"
	    "\t\tiifname \"%s\" reject with icmpx type admin-prohibited\n"
	    "\t\toifname \"%s\" drop\n",
	    h, acc.data ? acc.data : "", h, h, h);
	if (forward) /* we turned forwarding on: nothing else may use it */
		buf_printf(host,
			   "\t\tiifname != \"%s\" oifname != \"%s\" drop\n", h,
			   h);
	buf_puts(host, "\t}\n");
	buf_printf(host,
		   "\tchain postrouting {\n"
		   "\t\ttype nat hook postrouting priority srcnat; policy "
		   "accept;\n"
		   "\t\tip saddr %s oifname != \"%s\" masquerade\n"
		   "\t}\n}\n",
		   n->ns_ip, h);
	buf_printf(ns,
		   "table ip umbra {\n"
		   "\tchain prerouting {\n"
		   "\t\ttype nat hook prerouting priority dstnat; policy "
		   "accept;\n"
		   "\t\tiifname \"%s\" ip daddr %s meta l4proto { tcp, udp } "
		   "dnat to 127.0.0.1\n"
		   "\t}\n}\n",
		   n->ns_if, n->ns_ip);
	buf_free(&acc);
	return 0;
}

/* Runs a command; on failure appends "what: output" to err. */
static int step(const char *what, const char *const *argv, const char *input,
		buf_t *err)
{
	buf_t out = BUF_INIT;
	int rc = prov__run(argv, input, &out);
	if (rc) {
		while (out.len && (out.data[out.len - 1] == '\n'))
			out.data[--out.len] = '\0';
		if (rc == -ENOENT)
			buf_printf(
			    err, "%s: %s not found (install %s)", what, argv[0],
			    !strcmp(argv[0], "nft") ? "nftables" : "iproute2");
		else
			buf_printf(err, "%s: `%s` failed: %s", what, argv[0],
				   out.len ? out.data
					   : err_str(rc > 0 ? ERR_BADSTATE : rc));
		rc = rc > 0 ? ERR_BADSTATE : rc;
	}
	buf_free(&out);
	return rc;
}

static void quiet(const char *const *argv)
{
	buf_t out = BUF_INIT;
	prov__run(argv, NULL, &out);
	buf_free(&out);
}

/* Sets net.ipv4.conf.{all,IF}.route_localnet=1 inside the namespace: a
 * child joins it (a /proc/sys/net file belongs to the opener's netns). */
static int ns_route_localnet(const prov_net_t *n)
{
	char p1[128];
	snprintf(p1, sizeof(p1), "/proc/sys/net/ipv4/conf/%s/route_localnet",
		 n->ns_if);
	pid_t pid = fork();
	if (pid == 0) {
		if (setns(n->ns_fd, CLONE_NEWNET))
			_exit(1);
		const char *files[] = {
		    "/proc/sys/net/ipv4/conf/all/route_localnet", p1};
		for (int i = 0; i < 2; i++) {
			int fd = open(files[i], O_WRONLY);
			if (fd < 0 || write(fd, "1", 1) != 1)
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	if (pid < 0)
		return -errno;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ERR_BADSTATE;
}

/* True when some allowed destination is not an address of this host, so
 * the shadow's packets must be forwarded (and masqueraded). */
static bool needs_forward(const config_strv_t *allow)
{
	for (size_t i = 0; allow && i < allow->n; i++) {
		cidr_t c;
		const char *why;
		if (cidr_parse(allow->v[i], &c, &why))
			continue;
		if (c.family != AF_INET || c.prefix != 32)
			return true;
		struct sockaddr_in sa = {.sin_family = AF_INET};
		memcpy(&sa.sin_addr, c.addr, 4);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		bool local = fd >= 0 &&
			     bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (!local)
			return true;
	}
	return false;
}

static int read_forward(void)
{
	char c = '0';
	int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ok = read(fd, &c, 1) == 1;
	close(fd);
	return ok ? c - '0' : -1;
}

static int write_forward(int v)
{
	int fd = open(IP_FORWARD, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char c = (char)('0' + v);
	int rc = write(fd, &c, 1) == 1 ? 0 : -errno;
	close(fd);
	return rc;
}

/* Removes what a previous run (crashed, killed) may have left. */
static void clean_stale(const prov_net_t *n)
{
	quiet(
	    (const char *[]){"nft", "delete", "table", "inet", n->table, NULL});
	quiet((const char *[]){"ip", "link", "del", n->host_if, NULL});
	quiet((const char *[]){"ip", "netns", "del", n->ns, NULL});
}

int prov__net_setup(prov_net_t *n, const config_strv_t *allow, buf_t *err)
{
	buf_t host = BUF_INIT, nsr = BUF_INIT;
	bool fwd = false;
	int rc = prov__net_rules(n, allow, false, &host, &nsr, err);
	if (rc)
		goto out;
	clean_stale(n);
	if (n->fwd_mark[0] && access(n->fwd_mark, F_OK) == 0) {
		/* An earlier run turned forwarding on and did not live to
		 * turn it off. */
		write_forward(0);
		unlink(n->fwd_mark);
		log_warn("provision",
			 "an earlier run left IPv4 forwarding on; turned it "
			 "off again",
			 LF_S("sysctl", "net.ipv4.ip_forward"));
	}
	char addr_h[32], addr_s[32];
	snprintf(addr_h, sizeof(addr_h), "%s/%d", n->host_ip, n->prefix);
	snprintf(addr_s, sizeof(addr_s), "%s/%d", n->ns_ip, n->prefix);
	rc = step("shadow.isolate_network: cannot create the network "
		  "namespace",
		  (const char *[]){"ip", "netns", "add", n->ns, NULL}, NULL,
		  err);
	if (rc) {
		buf_puts(err, " (network namespaces need root: CAP_SYS_ADMIN "
			      "and CAP_NET_ADMIN; inside a container they "
			      "may be forbidden altogether. Run umbra as root "
			      "or set shadow.isolate_network: false)");
		goto out;
	}
	n->on = true;
	const char *sid = "shadow.isolate_network: cannot set up the veth pair";
	rc = step(sid,
		  (const char *[]){"ip", "link", "add", n->host_if, "type",
				   "veth", "peer", "name", n->ns_if, "netns",
				   n->ns, NULL},
		  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "addr", "add", addr_h, "dev",
					   n->host_if, NULL},
			  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "link", "set", n->host_if,
					   "up", NULL},
			  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "-n", n->ns, "addr", "add",
					   addr_s, "dev", n->ns_if, NULL},
			  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "-n", n->ns, "link", "set",
					   n->ns_if, "up", NULL},
			  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "-n", n->ns, "link", "set",
					   "lo", "up", NULL},
			  NULL, err);
	if (!rc)
		rc = step(sid,
			  (const char *[]){"ip", "-n", n->ns, "route", "add",
					   "default", "via", n->host_ip, NULL},
			  NULL, err);
	if (rc)
		goto out;
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", n->ns);
	n->ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (n->ns_fd < 0) {
		rc = -errno;
		buf_printf(err, "shadow.isolate_network: cannot open %s: %s",
			   path, strerror(errno));
		goto out;
	}
	if ((rc = ns_route_localnet(n))) {
		buf_puts(err, "shadow.isolate_network: cannot set "
			      "route_localnet in the namespace");
		goto out;
	}
	rc = step("shadow.isolate_network: cannot load the namespace's "
		  "nftables rules",
		  (const char *[]){"ip", "netns", "exec", n->ns, "nft", "-f",
				   "-", NULL},
		  nsr.data, err);
	if (rc)
		goto out;
	fwd = needs_forward(allow); /* now that the veth address is local */
	if (fwd && read_forward() == 0) {
		buf_reset(&host);
		buf_reset(&nsr);
		prov__net_rules(n, allow, true, &host, &nsr, err);
		if (n->fwd_mark[0])
			fs_write_atomic(n->fwd_mark, "0\n", 2, 0644, false);
		if ((rc = write_forward(1))) {
			buf_printf(err,
				   "shadow.allow_outbound: cannot enable "
				   "%s: %s",
				   IP_FORWARD, err_str(rc));
			goto out;
		}
		n->fwd_prev = 0;
		log_warn("provision",
			 "enabled IPv4 forwarding for the shadow's allowed "
			 "outbound destinations; other forwarding stays "
			 "blocked, and it is turned off again at exit",
			 LF_S("sysctl", "net.ipv4.ip_forward"));
	}
	rc = step("shadow.isolate_network: cannot load the host's nftables "
		  "rules",
		  (const char *[]){"nft", "-f", "-", NULL}, host.data, err);
out:
	if (rc)
		prov__net_teardown(n);
	buf_free(&host);
	buf_free(&nsr);
	return rc;
}

void prov__net_teardown(prov_net_t *n)
{
	if (n->ns_fd >= 0)
		close(n->ns_fd);
	n->ns_fd = -1;
	if (n->on)
		clean_stale(n);
	if (n->fwd_prev == 0) {
		write_forward(0);
		if (n->fwd_mark[0])
			unlink(n->fwd_mark);
	}
	n->fwd_prev = -1;
	n->on = false;
}
