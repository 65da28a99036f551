/*
 * packet.c: captured frames to TCP segments (reasm.h). Link layers:
 * Ethernet (with 802.1Q/802.1ad VLAN tags), Linux cooked capture v1 and
 * v2 (tcpdump -i any), BSD loopback (DLT_NULL, DLT_LOOP), raw IPv4/IPv6.
 * IPv4 and IPv6 (extension headers skipped; fragments refused), TCP with
 * options skipped. Every length is checked against what was captured;
 * the IP total length bounds the payload (Ethernet pads short frames), and
 * a payload cut by the snap length is reported as such (wire_len > len),
 * so the reassembler knows bytes are missing rather than inventing them.
 */
#include "capture/reasm.h"

#include <pcap/dlt.h>
#include <string.h>

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define VLAN_MAX 4 /* stacked tags followed; more is not a real frame */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define IPPROTO_TCP_ 6
#define IP6_EXT_MAX 8 /* extension headers followed */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

bool cap_linktype_supported(int lt)
{
	switch (lt) {
	case DLT_NULL:
	case DLT_EN10MB:
	case DLT_RAW:
	case 101: /* LINKTYPE_RAW as some files carry it */
	case DLT_LOOP:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_IPV4:
	case DLT_IPV6:
		return true;
	default:
		return false;
	}
}

/* TCP at p[0..avail), whose IP payload is wire bytes long. */
static cap_pkt_t tcp(const uint8_t *p, size_t avail, size_t wire,
		     cap_seg_t *s)
{
	if (avail < 20)
		return CAP_PKT_SHORT;
	size_t off = (size_t)(p[12] >> 4) * 4;
	if (off < 20 || off > wire)
		return CAP_PKT_BAD;
	if (avail < off)
		return CAP_PKT_SHORT;
	s->src.port = be16(p);
	s->dst.port = be16(p + 2);
	s->seq = be32(p + 4);
	s->ack = be32(p + 8);
	s->flags = p[13] & 0x3f;
	s->data = p + off;
	s->wire_len = wire - off;
	s->len = avail - off < s->wire_len ? avail - off : s->wire_len;
	return CAP_PKT_TCP;
}

static cap_pkt_t ipv4(const uint8_t *p, size_t avail, cap_seg_t *s)
{
	if (avail < 20)
		return CAP_PKT_SHORT;
	if (p[0] >> 4 != 4)
		return CAP_PKT_BAD;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	size_t total = be16(p + 2);
	if (ihl < 20 || total < ihl)
		return CAP_PKT_BAD;
	if (avail < ihl)
		return CAP_PKT_SHORT;
	uint16_t frag = be16(p + 6);
	if ((frag & 0x2000) || (frag & 0x1fff))
		return CAP_PKT_FRAGMENT;
	if (p[9] != IPPROTO_TCP_)
		return CAP_PKT_NOT_TCP;
	s->src.family = s->dst.family = 4;
	memset(s->src.ip, 0, 16);
	memset(s->dst.ip, 0, 16);
	memcpy(s->src.ip, p + 12, 4);
	memcpy(s->dst.ip, p + 16, 4);
	size_t have = avail < total ? avail : total;
	return tcp(p + ihl, have - ihl, total - ihl, s);
}

static cap_pkt_t ipv6(const uint8_t *p, size_t avail, cap_seg_t *s)
{
	if (avail < 40)
		return CAP_PKT_SHORT;
	if (p[0] >> 4 != 6)
		return CAP_PKT_BAD;
	size_t plen = be16(p + 4);
	if (plen == 0)
		return CAP_PKT_BAD; /* jumbograms: not on an HTTP path */
	uint8_t next = p[6];
	s->src.family = s->dst.family = 6;
	memcpy(s->src.ip, p + 8, 16);
	memcpy(s->dst.ip, p + 24, 16);
	size_t off = 40, end = 40 + plen;
	for (int i = 0; i < IP6_EXT_MAX; i++) {
		if (next == IPPROTO_TCP_) {
			size_t have = avail < end ? avail : end;
			if (have < off)
				return CAP_PKT_SHORT;
			return tcp(p + off, have - off, end - off, s);
		}
		if (next == 44)
			return CAP_PKT_FRAGMENT;
		if (next != 0 && next != 43 && next != 60)
			return CAP_PKT_NOT_TCP;
		if (avail < off + 8)
			return CAP_PKT_SHORT;
		size_t hl = ((size_t)p[off + 1] + 1) * 8;
		next = p[off];
		off += hl;
		if (off > end)
			return CAP_PKT_BAD;
	}
	return CAP_PKT_BAD;
}

static cap_pkt_t by_version(const uint8_t *p, size_t n, cap_seg_t *s)
{
	if (n < 1)
		return CAP_PKT_SHORT;
	if (p[0] >> 4 == 4)
		return ipv4(p, n, s);
	if (p[0] >> 4 == 6)
		return ipv6(p, n, s);
	return CAP_PKT_NOT_IP;
}

static cap_pkt_t by_ethertype(uint16_t et, const uint8_t *p, size_t n,
			      cap_seg_t *s)
{
	if (et == ETHERTYPE_IPV4)
		return ipv4(p, n, s);
	if (et == ETHERTYPE_IPV6)
		return ipv6(p, n, s);
	return CAP_PKT_NOT_IP;
}

cap_pkt_t cap_packet_decode(int lt, const uint8_t *p, size_t n, cap_seg_t *s)
{
	memset(s, 0, sizeof(*s));
	switch (lt) {
	case DLT_EN10MB: {
		if (n < ETH_HLEN)
			return CAP_PKT_SHORT;
		size_t off = 12;
		uint16_t et = be16(p + off);
		for (int i = 0; i < VLAN_MAX &&
				(et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ);
		     i++) {
			off += 4;
			if (n < off + 2)
				return CAP_PKT_SHORT;
			et = be16(p + off);
		}
		off += 2;
		return by_ethertype(et, p + off, n - off, s);
	}
	case DLT_LINUX_SLL:
		if (n < SLL_HLEN)
			return CAP_PKT_SHORT;
		return by_ethertype(be16(p + 14), p + SLL_HLEN, n - SLL_HLEN, s);
	case DLT_LINUX_SLL2:
		if (n < SLL2_HLEN)
			return CAP_PKT_SHORT;
		return by_ethertype(be16(p), p + SLL2_HLEN, n - SLL2_HLEN, s);
	case DLT_NULL:
	case DLT_LOOP:
		/* a 4-byte address family (host order for NULL, network
		 * order for LOOP); the IP version nibble says the same */
		if (n < 4)
			return CAP_PKT_SHORT;
		return by_version(p + 4, n - 4, s);
	case DLT_RAW:
	case 101:
	case DLT_IPV4:
	case DLT_IPV6:
		return by_version(p, n, s);
	default:
		return CAP_PKT_LINKTYPE;
	}
}
