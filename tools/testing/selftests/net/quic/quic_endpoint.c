// SPDX-License-Identifier: GPL-2.0
/*
 * What a QUIC endpoint answers on the wire without a connection.
 *
 * A plain UDP socket plays a remote QUIC peer against a listening
 * IPPROTO_QUIC socket on loopback, for IPv4 and IPv6:
 * - a long header of an unknown version in a datagram of 1200 bytes gets a
 *   Version Negotiation packet listing QUIC v1 and v2 (RFC 9000 §6.1), a
 *   smaller one nothing (§5.2.2), and so does one sent to a socket that
 *   does not listen;
 * - a short header for an unknown connection ID gets a stateless reset
 *   (§10.3): smaller than its trigger, shaped like a short header, with a
 *   token that depends only on the connection ID; a trigger of 41 bytes or
 *   less gets nothing.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/quic.h>

#include "../../kselftest_harness.h"
#include "quic_util.h"

#define QUIC_V1 0x00000001
#define QUIC_V2 0x6b3343cf
#define CID_LEN 16		/* the kernel's connection ID length */
#define TOKEN_LEN 16

/* The remote peer: a UDP socket, and the QUIC socket's address. */
struct peer {
	int udp;
	struct sockaddr_storage addr;
	socklen_t len;
};

FIXTURE(endpoint) {
	int quic;		/* the listening QUIC socket */
	struct peer peer;
};

FIXTURE_VARIANT(endpoint) {
	int family;
	int listen;
};

FIXTURE_VARIANT_ADD(endpoint, ipv4) { .family = AF_INET, .listen = 1 };
FIXTURE_VARIANT_ADD(endpoint, ipv6) { .family = AF_INET6, .listen = 1 };
FIXTURE_VARIANT_ADD(endpoint, ipv4_not_listening) { .family = AF_INET, .listen = 0 };

FIXTURE_SETUP(endpoint)
{
	struct sockaddr_storage any;
	socklen_t any_len;

	self->quic = socket(variant->family, SOCK_DGRAM, IPPROTO_QUIC);
	ASSERT_LE(0, self->quic) TH_LOG("socket: %s", strerror(errno));
	self->peer.len = quic_loopback(variant->family, &self->peer.addr);
	ASSERT_EQ(0, bind(self->quic, (struct sockaddr *)&self->peer.addr, self->peer.len))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, getsockname(self->quic, (struct sockaddr *)&self->peer.addr,
				 &self->peer.len));
	ASSERT_EQ(0, setsockopt(self->quic, SOL_QUIC, QUIC_SOCKOPT_ALPN, "smb", 3));
	if (variant->listen)
		ASSERT_EQ(0, listen(self->quic, 8)) TH_LOG("listen: %s", strerror(errno));

	self->peer.udp = socket(variant->family, SOCK_DGRAM, IPPROTO_UDP);
	ASSERT_LE(0, self->peer.udp);
	any_len = quic_loopback(variant->family, &any);
	ASSERT_EQ(0, bind(self->peer.udp, (struct sockaddr *)&any, any_len));
}

FIXTURE_TEARDOWN(endpoint)
{
	close(self->peer.udp);
	close(self->quic);
}

/* Sends @len bytes of @buf to the QUIC socket's port; returns the length of
 * the answer in @out, -1 when none came within @ms milliseconds, -2 when
 * sending failed (errno set), -3 when the answer came from another address.
 */
static int exchange(const struct peer *p, const unsigned char *buf, size_t len,
		    unsigned char *out, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = p->udp, .events = POLLIN };
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	n = sendto(p->udp, buf, len, 0, (const struct sockaddr *)&p->addr, p->len);
	if (n != (ssize_t)len)
		return -2;
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	n = recvfrom(p->udp, out, cap, 0, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return -1;
	/* The answer comes from the QUIC socket's address and port. */
	if (flen != p->len || memcmp(&from, &p->addr, p->len))
		return -3;
	return n;
}

/* A long header of the reserved version 0x1a2a3a4a, padded to @len. */
static void unknown_version(unsigned char *buf, size_t len)
{
	static const unsigned char head[] = {
		0xc0, 0x1a, 0x2a, 0x3a, 0x4a,
		8, 1, 2, 3, 4, 5, 6, 7, 8,	/* DCID */
		4, 9, 10, 11, 12,		/* SCID */
	};

	memset(buf, 0, len);
	memcpy(buf, head, sizeof(head));
}

static int offers(const unsigned char *list, int len, unsigned int version)
{
	for (int i = 0; i + 4 <= len; i += 4)
		if (((unsigned int)list[i] << 24 | list[i + 1] << 16 | list[i + 2] << 8 |
		     list[i + 3]) == version)
			return 1;
	return 0;
}

TEST_F(endpoint, version_negotiation)
{
	unsigned char buf[1200], vn[1500];
	int n;

	unknown_version(buf, sizeof(buf));
	n = exchange(&self->peer, buf, sizeof(buf), vn, sizeof(vn), 2000);
	if (!variant->listen) {
		/* Nobody to negotiate for. */
		EXPECT_EQ(-1, n);
		return;
	}
	ASSERT_LE(5 + 1 + 4 + 1 + 8 + 8, n)
		TH_LOG("no Version Negotiation (%d, %s)", n, strerror(errno));
	EXPECT_EQ(0x80, vn[0] & 0x80);
	EXPECT_EQ(0, vn[1] | vn[2] | vn[3] | vn[4]);
	/* The client's connection IDs, swapped. */
	EXPECT_EQ(4, vn[5]);
	EXPECT_EQ(0, memcmp(vn + 6, buf + 15, 4));
	EXPECT_EQ(8, vn[10]);
	EXPECT_EQ(0, memcmp(vn + 11, buf + 6, 8));
	EXPECT_EQ(0, (n - 19) % 4);
	EXPECT_TRUE(offers(vn + 19, n - 19, QUIC_V1));
	EXPECT_TRUE(offers(vn + 19, n - 19, QUIC_V2));
	EXPECT_FALSE(offers(vn + 19, n - 19, 0x1a2a3a4a));
}

TEST_F(endpoint, small_unknown_version_dropped)
{
	unsigned char buf[1199], out[1500];

	unknown_version(buf, sizeof(buf));
	EXPECT_EQ(-1, exchange(&self->peer, buf, sizeof(buf), out, sizeof(out), 500));
}

static int reset_for(const struct peer *p, unsigned char cid_byte, size_t len,
		     unsigned char *out)
{
	unsigned char buf[200];

	memset(buf, 0x5c, sizeof(buf));
	buf[0] = 0x40;
	memset(buf + 1, cid_byte, CID_LEN);
	return exchange(p, buf, len, out, 1500, 2000);
}

TEST_F(endpoint, stateless_reset)
{
	unsigned char a[1500], b[1500], c[1500];
	int na, nb, nc;

	na = reset_for(&self->peer, 0x11, 100, a);
	ASSERT_LE(41, na) TH_LOG("no stateless reset (%d, %s)", na, strerror(errno));
	EXPECT_GT(100, na);
	EXPECT_EQ(0x40, a[0] & 0xc0);
	/* The token is a function of the connection ID ... */
	nb = reset_for(&self->peer, 0x11, 60, b);
	ASSERT_LE(41, nb);
	EXPECT_GT(60, nb);
	EXPECT_EQ(0, memcmp(a + na - TOKEN_LEN, b + nb - TOKEN_LEN, TOKEN_LEN));
	/* ... and differs for another one. */
	nc = reset_for(&self->peer, 0x22, 100, c);
	ASSERT_LE(41, nc);
	EXPECT_NE(0, memcmp(a + na - TOKEN_LEN, c + nc - TOKEN_LEN, TOKEN_LEN));
}

TEST_F(endpoint, tiny_trigger_gets_no_reset)
{
	unsigned char out[1500];

	/* A reset must be smaller than its trigger and at least 41 bytes. */
	EXPECT_EQ(-1, reset_for(&self->peer, 0x33, 41, out));
}

TEST_HARNESS_MAIN
