/*
 * test_netns.c: the isolated shadow's network plan (names, addresses) and
 * the nftables rulesets generated for it, without touching the system.
 */
#include "base/err.h"
#include "provision/prov_int.h"

#include <criterion/criterion.h>
#include <string.h>

Test(netns, plan_names_and_addresses)
{
	prov_net_t n;
	buf_t err = BUF_INIT;
	cr_assert_eq(
	    prov__net_plan(&n, "check-out.v2", "169.254.213.0/30", &err), 0);
	cr_assert_str_eq(n.ns, "umbra-check-out.v2");
	cr_assert_str_eq(n.host_ip, "169.254.213.1");
	cr_assert_str_eq(n.ns_ip, "169.254.213.2");
	cr_assert_eq(n.prefix, 30);
	cr_assert_str_eq(n.table, "umbra_check_out_v2");
	cr_assert_eq(strlen(n.host_if), 12); /* IFNAMSIZ is 16 */
	cr_assert_eq(strncmp(n.host_if, n.ns_if, 11), 0);
	cr_assert_eq(n.ns_fd, -1);
	/* another service, other interface names */
	prov_net_t m;
	cr_assert_eq(prov__net_plan(&m, "other", "10.1.2.8/29", &err), 0);
	cr_assert_str_neq(m.host_if, n.host_if);
	cr_assert_str_eq(m.ns_ip, "10.1.2.10");
	cr_assert_eq(prov__net_plan(&m, "x", "10.1.2.0/31", &err), ERR_CONFIG);
	cr_assert_eq(prov__net_plan(&m, "x", "::1/64", &err), ERR_CONFIG);
	buf_free(&err);
}

Test(netns, rules_allow_list_and_defaults)
{
	prov_net_t n;
	buf_t err = BUF_INIT, host = BUF_INIT, ns = BUF_INIT;
	prov__net_plan(&n, "api", "169.254.213.0/30", &err);
	char *allow_v[] = {"10.0.5.20:5432", "192.168.0.0/16",
			   "[2001:db8::1]:443"};
	config_strv_t allow = {allow_v, 3};
	cr_assert_eq(prov__net_rules(&n, &allow, false, &host, &ns, &err), 0);
	const char *h = host.data;
	cr_assert(strstr(h, "table inet umbra_api {"));
	cr_assert(strstr(h, "ct state established,related accept"));
	cr_assert(strstr(h, "ip daddr 10.0.5.20 meta l4proto { tcp, udp } "
			    "th dport 5432 accept"));
	cr_assert(strstr(h, "ip daddr 192.168.0.0/16 accept"));
	cr_assert(strstr(h, "ip6 daddr 2001:db8::1 meta l4proto { tcp, udp } "
			    "th dport 443 accept"));
	cr_assert(strstr(h, "reject with tcp reset"));
	cr_assert(strstr(h, "masquerade"));
	/* without forwarding turned on by us, other traffic is untouched */
	cr_assert_null(strstr(h, "iifname != "));
	cr_assert(strstr(ns.data, "dnat to 127.0.0.1"));
	cr_assert(strstr(ns.data, "ip daddr 169.254.213.2"));
	buf_reset(&host);
	buf_reset(&ns);
	cr_assert_eq(prov__net_rules(&n, &allow, true, &host, &ns, &err), 0);
	cr_assert(strstr(host.data, "iifname != "));
	/* a bad entry is refused with its reason */
	char *bad_v[] = {"db.internal:5432"};
	config_strv_t bad = {bad_v, 1};
	buf_reset(&host);
	cr_assert_eq(prov__net_rules(&n, &bad, false, &host, &ns, &err),
		     ERR_CONFIG);
	cr_assert(strstr(err.data, "db.internal:5432"));
	buf_free(&host);
	buf_free(&ns);
	buf_free(&err);
}
