// SPDX-License-Identifier: GPL-2.0
/*
 * IPPROTO_QUIC socket lifecycle and option validation.
 *
 * For every family (AF_INET, AF_INET6) and type (SOCK_STREAM, SOCK_DGRAM):
 * socket(), SO_PROTOCOL/SO_DOMAIN/SO_TYPE, bind() to loopback, a second
 * bind(), listen(), close(); and bad input to bind()/setsockopt()/
 * getsockopt() that must fail with a clear errno, never crash.
 *
 * bind() opens a kernel UDP socket on the address, shared by every QUIC
 * socket bound to the same address and port and closed with the last one:
 * the port is then held against plain UDP sockets, and free again after.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/quic.h>

#include "../../kselftest_harness.h"
#include "quic_util.h"

FIXTURE(quic) {
	int fd;
};

FIXTURE_VARIANT(quic) {
	int family;
	int type;
};

FIXTURE_VARIANT_ADD(quic, ipv4_stream) { .family = AF_INET, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(quic, ipv4_dgram) { .family = AF_INET, .type = SOCK_DGRAM };
FIXTURE_VARIANT_ADD(quic, ipv6_stream) { .family = AF_INET6, .type = SOCK_STREAM };
FIXTURE_VARIANT_ADD(quic, ipv6_dgram) { .family = AF_INET6, .type = SOCK_DGRAM };

FIXTURE_SETUP(quic)
{
	self->fd = socket(variant->family, variant->type, IPPROTO_QUIC);
	ASSERT_LE(0, self->fd) TH_LOG("socket(%d, %d, IPPROTO_QUIC): %s",
				      variant->family, variant->type, strerror(errno));
}

FIXTURE_TEARDOWN(quic)
{
	if (self->fd >= 0)
		close(self->fd);
}

static socklen_t loopback_port(int family, struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	sin6->sin6_port = htons(port);
	return sizeof(*sin6);
}

static socklen_t loopback(int family, struct sockaddr_storage *ss)
{
	return loopback_port(family, ss, 4433);
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	return !memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, &in6addr_loopback,
		       sizeof(struct in6_addr));
}

static int getint(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, level, name, &val, &len))
		return -errno;
	return val;
}

TEST_F(quic, protocol)
{
	EXPECT_EQ(IPPROTO_QUIC, getint(self->fd, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(variant->family, getint(self->fd, SOL_SOCKET, SO_DOMAIN));
	EXPECT_EQ(variant->type, getint(self->fd, SOL_SOCKET, SO_TYPE));
}

TEST_F(quic, bind_listen_close)
{
	struct sockaddr_storage ss, got;
	socklen_t len = loopback(variant->family, &ss), glen = sizeof(got);

	ASSERT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, getsockname(self->fd, (struct sockaddr *)&got, &glen));
	EXPECT_EQ(variant->family, got.ss_family);
	if (variant->family == AF_INET) {
		EXPECT_EQ(htonl(INADDR_LOOPBACK), ((struct sockaddr_in *)&got)->sin_addr.s_addr);
	} else {
		EXPECT_EQ(0, memcmp(&in6addr_loopback, &((struct sockaddr_in6 *)&got)->sin6_addr,
				    sizeof(struct in6_addr)));
	}

	/* A socket is bound once. */
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, len));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, listen(self->fd, 8)) TH_LOG("listen: %s", strerror(errno));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
}

TEST_F(quic, bind_bad_address)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(variant->family, &ss);

	/* Too short for its family. */
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, 4));
	EXPECT_EQ(EINVAL, errno);
	/* The other family. */
	loopback(variant->family == AF_INET ? AF_INET6 : AF_INET, &ss);
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, sizeof(struct sockaddr_in6)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	/* Still bindable after the failures. */
	len = loopback(variant->family, &ss);
	EXPECT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len));
}

TEST_F(quic, getsockname_after_bind)
{
	struct sockaddr_storage ss, got;
	socklen_t len = loopback(variant->family, &ss), glen = sizeof(got);

	ASSERT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len))
		TH_LOG("bind: %s", strerror(errno));
	memset(&got, 0, sizeof(got));
	ASSERT_EQ(0, getsockname(self->fd, (struct sockaddr *)&got, &glen));
	EXPECT_EQ(len, glen);
	EXPECT_EQ(variant->family, got.ss_family);
	EXPECT_EQ(4433, port_of(&got));
	EXPECT_TRUE(is_loopback(&got));
}

TEST_F(quic, bind_port_zero)
{
	struct sockaddr_storage ss, got;
	socklen_t len = loopback_port(variant->family, &ss, 0), glen = sizeof(got);

	ASSERT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, getsockname(self->fd, (struct sockaddr *)&got, &glen));
	EXPECT_EQ(variant->family, got.ss_family);
	EXPECT_NE(0, port_of(&got));
	EXPECT_TRUE(is_loopback(&got));
}

TEST_F(quic, bind_nonlocal)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(variant->family, &ss);

	/* TEST-NET-1 and the IPv6 documentation prefix: never local. */
	if (variant->family == AF_INET)
		inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, "2001:db8::1", &((struct sockaddr_in6 *)&ss)->sin6_addr);
	EXPECT_EQ(-1, bind(self->fd, (struct sockaddr *)&ss, len));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	/* Still bindable after the failure. */
	len = loopback_port(variant->family, &ss, 0);
	EXPECT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len));
}

TEST_F(quic, bind_shared)
{
	struct sockaddr_storage ss, got;
	socklen_t len = loopback_port(variant->family, &ss, 0), glen = sizeof(got);
	int fd2, udp, port;

	ASSERT_EQ(0, bind(self->fd, (struct sockaddr *)&ss, len))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, getsockname(self->fd, (struct sockaddr *)&got, &glen));
	port = port_of(&got);
	ASSERT_NE(0, port);

	/* A second QUIC socket shares the address and port. */
	fd2 = socket(variant->family, variant->type, IPPROTO_QUIC);
	ASSERT_LE(0, fd2);
	len = loopback_port(variant->family, &ss, port);
	EXPECT_EQ(0, bind(fd2, (struct sockaddr *)&ss, len))
		TH_LOG("second bind: %s", strerror(errno));
	glen = sizeof(got);
	ASSERT_EQ(0, getsockname(fd2, (struct sockaddr *)&got, &glen));
	EXPECT_EQ(port, port_of(&got));

	/* The UDP port stays taken while one QUIC socket uses it... */
	udp = socket(variant->family, SOCK_DGRAM, 0);
	ASSERT_LE(0, udp);
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(-1, bind(udp, (struct sockaddr *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno);

	/* ...and is free once the last one is closed. */
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, bind(udp, (struct sockaddr *)&ss, len))
		TH_LOG("UDP bind after close: %s", strerror(errno));
	close(udp);
}

TEST_F(quic, event_option)
{
	struct quic_event_option ev = { .type = QUIC_EVENT_STREAM_UPDATE, .on = 1 };
	socklen_t len = sizeof(ev);

	ASSERT_EQ(0, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)));
	ev.on = 0;
	ASSERT_EQ(0, getsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(1, ev.on);
	EXPECT_EQ(sizeof(ev), len);
}

TEST_F(quic, bad_options)
{
	struct quic_event_option ev = { .type = QUIC_EVENT_STREAM_UPDATE, .on = 1 };
	socklen_t len = sizeof(ev);

	/* Unknown option. */
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, 1000, &ev, sizeof(ev)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_QUIC, 1000, &ev, &len));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* Short optlen. */
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, 1));
	EXPECT_EQ(EINVAL, errno);
	len = 1;
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, &len));
	EXPECT_EQ(EINVAL, errno);
	/* NULL optval. */
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, NULL, sizeof(ev)));
	EXPECT_EQ(EFAULT, errno);
	len = sizeof(ev);
	EXPECT_EQ(-1, getsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, NULL, &len));
	EXPECT_EQ(EFAULT, errno);
	/* Out-of-range event type and switch value. */
	ev.type = QUIC_EVENT_MAX;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)));
	EXPECT_EQ(EINVAL, errno);
	ev.type = QUIC_EVENT_KEY_UPDATE;
	ev.on = 2;
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_EVENT, &ev, sizeof(ev)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(quic, alpn_option)
{
	char alpn[64] = {};
	socklen_t len = sizeof(alpn);
	char big[300];

	ASSERT_EQ(0, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "smb,h3", 6));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, alpn, &len));
	EXPECT_EQ(6, len);
	EXPECT_EQ(0, memcmp(alpn, "smb,h3", 6));
	memset(big, 'a', sizeof(big));
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, big, sizeof(big)));
	EXPECT_EQ(EINVAL, errno);
}

TEST(unsupported_type)
{
	int fd = socket(AF_INET, SOCK_SEQPACKET, IPPROTO_QUIC);

	EXPECT_EQ(-1, fd);
	if (fd >= 0)
		close(fd);
}

TEST_HARNESS_MAIN
