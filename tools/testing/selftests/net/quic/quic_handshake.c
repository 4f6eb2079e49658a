// SPDX-License-Identifier: GPL-2.0
/*
 * A QUIC connection between two IPPROTO_QUIC sockets on loopback, with the
 * handshake driven from userspace as the socket API prescribes: TLS
 * messages through sendmsg()/recvmsg() with QUIC_HANDSHAKE_INFO, transport
 * parameters through QUIC_SOCKOPT_TRANSPORT_PARAM_EXT and traffic secrets
 * through QUIC_SOCKOPT_CRYPTO_SECRET.
 *
 * The kernel does not look into TLS messages (except the ClientHello's
 * ALPN, to pick a listener), so a stand-in for TLS is enough here: a
 * minimal ClientHello carrying the ALPN and the client's transport
 * parameters, opaque "flights" for the rest, and fixed secrets both sides
 * install. Everything else is real: Initial keys derived from the
 * connection ID, packet protection, CRYPTO frames, handshake completion,
 * then stream data both ways and the close.
 */

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/quic.h>

#include "../../kselftest_harness.h"
#include "quic_util.h"

#define TLS_CIPHER_AES_GCM_128 51
#define CLIENT_FINISHED "client finished"

/* The two peers: a listener, the server socket it accepts and a client. */
struct peers {
	int listener, server, client;
	struct sockaddr_storage addr;
	socklen_t len;
};

FIXTURE(conn) {
	struct peers p;
};

FIXTURE_VARIANT(conn) {
	int family;
};

FIXTURE_VARIANT_ADD(conn, ipv4) { .family = AF_INET };
FIXTURE_VARIANT_ADD(conn, ipv6) { .family = AF_INET6 };

static int timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	       setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

FIXTURE_SETUP(conn)
{
	self->p.server = -1;
	self->p.listener = socket(variant->family, SOCK_STREAM, IPPROTO_QUIC);
	ASSERT_LE(0, self->p.listener) TH_LOG("socket: %s", strerror(errno));
	self->p.len = quic_loopback(variant->family, &self->p.addr);
	ASSERT_EQ(0, bind(self->p.listener, (struct sockaddr *)&self->p.addr, self->p.len));
	ASSERT_EQ(0, getsockname(self->p.listener, (struct sockaddr *)&self->p.addr, &self->p.len));
	ASSERT_EQ(0, setsockopt(self->p.listener, SOL_QUIC, QUIC_SOCKOPT_ALPN, "smb", 3));
	ASSERT_EQ(0, listen(self->p.listener, 8));
	ASSERT_EQ(0, timeouts(self->p.listener));
	self->p.client = socket(variant->family, SOCK_STREAM, IPPROTO_QUIC);
	ASSERT_LE(0, self->p.client);
	ASSERT_EQ(0, timeouts(self->p.client));
}

FIXTURE_TEARDOWN(conn)
{
	close(self->p.client);
	if (self->p.server >= 0)
		close(self->p.server);
	close(self->p.listener);
}

/* Appends a big-endian value of @n bytes. */
static unsigned char *put(unsigned char *p, unsigned int v, int n)
{
	while (n--)
		*p++ = v >> (8 * n);
	return p;
}

/* A TLS 1.3 ClientHello with an ALPN extension and the QUIC transport
 * parameters extension; returns its length.
 */
static int client_hello(unsigned char *out, const char *alpn,
			const unsigned char *tp, int tp_len)
{
	unsigned char *p = out + 4, *ext;
	int alen = strlen(alpn);

	p = put(p, 0x0303, 2);			/* legacy_version */
	memset(p, 0x42, 32);			/* random */
	p += 32;
	p = put(p, 0, 1);			/* legacy_session_id */
	p = put(p, 2, 2);			/* cipher_suites */
	p = put(p, 0x1301, 2);
	p = put(p, 1, 1);			/* legacy_compression_methods */
	p = put(p, 0, 1);
	ext = p;
	p += 2;
	p = put(p, 16, 2);			/* application_layer_protocol_negotiation */
	p = put(p, alen + 3, 2);
	p = put(p, alen + 1, 2);
	p = put(p, alen, 1);
	memcpy(p, alpn, alen);
	p += alen;
	p = put(p, 0x39, 2);			/* quic_transport_parameters */
	p = put(p, tp_len, 2);
	memcpy(p, tp, tp_len);
	p += tp_len;
	put(ext, p - ext - 2, 2);
	out[0] = 1;				/* client_hello */
	put(out + 1, p - out - 4, 3);
	return p - out;
}

static int send_hs(int fd, int level, const void *buf, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(struct quic_handshake_info))] = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_HANDSHAKE_INFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct quic_handshake_info));
	((struct quic_handshake_info *)CMSG_DATA(c))->crypto_level = level;
	return sendmsg(fd, &msg, 0);
}

/* Receives handshake bytes; returns their length and level in @level. */
static int recv_hs(int fd, int *level, void *buf, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(struct quic_handshake_info))] = {};
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int n = recvmsg(fd, &msg, 0);

	*level = -1;
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_QUIC && c->cmsg_type == QUIC_HANDSHAKE_INFO)
			*level = ((struct quic_handshake_info *)CMSG_DATA(c))->crypto_level;
	return n;
}

/* Installs the secret of @level in direction @send: both peers derive the
 * same bytes from who sends at which level.
 */
static int secret(int fd, int level, int send, int client_sends)
{
	struct quic_crypto_secret s = {
		.send = send, .level = level, .type = TLS_CIPHER_AES_GCM_128,
	};

	memset(s.secret, 0x10 * level + client_sends, 32);
	return setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_CRYPTO_SECRET, &s, sizeof(s));
}

static int send_stream(int fd, long long id, unsigned int flags, const char *data)
{
	char ctl[CMSG_SPACE(sizeof(struct quic_stream_info))] = {};
	struct iovec iov = { .iov_base = (void *)data, .iov_len = strlen(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct quic_stream_info *info = (struct quic_stream_info *)CMSG_DATA(c);

	c->cmsg_level = SOL_QUIC;
	c->cmsg_type = QUIC_STREAM_INFO;
	c->cmsg_len = CMSG_LEN(sizeof(*info));
	info->stream_id = id;
	info->stream_flags = flags;
	return sendmsg(fd, &msg, 0);
}

static int recv_stream(int fd, long long *id, unsigned int *flags, char *buf, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(struct quic_stream_info))] = {};
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	int n = recvmsg(fd, &msg, 0);

	*id = -1;
	for (c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_QUIC && c->cmsg_type == QUIC_STREAM_INFO) {
			*id = ((struct quic_stream_info *)CMSG_DATA(c))->stream_id;
			*flags = ((struct quic_stream_info *)CMSG_DATA(c))->stream_flags;
		}
	}
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* Runs the TLS stand-in; leaves both ends established. */
static void establish(struct __test_metadata *_metadata, struct peers *self,
		      const char *alpn)
{
	unsigned char tp_c[512], tp_s[512], hello[1024], buf[2048];
	socklen_t tlen = sizeof(tp_c), slen = sizeof(tp_s);
	int n, level, hlen;

	/* connect() sends nothing: it sets up the connection IDs and keys. */
	ASSERT_EQ(0, connect(self->client, (struct sockaddr *)&self->addr, self->len))
		TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(0, getsockopt(self->client, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
				tp_c, &tlen));
	ASSERT_LT(0, tlen);
	hlen = client_hello(hello, alpn, tp_c, tlen);
	ASSERT_EQ(hlen, send_hs(self->client, QUIC_CRYPTO_INITIAL, hello, hlen))
		TH_LOG("sendmsg ClientHello: %s", strerror(errno));

	/* The Initial reaches the listener serving the ALPN. */
	self->server = accept(self->listener, NULL, NULL);
	ASSERT_LE(0, self->server) TH_LOG("accept: %s", strerror(errno));
	ASSERT_EQ(0, timeouts(self->server));
	n = recv_hs(self->server, &level, buf, sizeof(buf));
	ASSERT_EQ(hlen, n) TH_LOG("server recvmsg: %s", strerror(errno));
	EXPECT_EQ(QUIC_CRYPTO_INITIAL, level);
	EXPECT_EQ(0, memcmp(hello, buf, hlen));

	/* The server side of "TLS": peer parameters, then its flights. */
	ASSERT_EQ(0, setsockopt(self->server, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
				tp_c, tlen));
	ASSERT_EQ(0, getsockopt(self->server, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
				tp_s, &slen));
	ASSERT_EQ(slen, send_hs(self->server, QUIC_CRYPTO_INITIAL, tp_s, slen));
	ASSERT_EQ(0, secret(self->server, QUIC_CRYPTO_HANDSHAKE, 1, 0));
	ASSERT_EQ(0, secret(self->server, QUIC_CRYPTO_HANDSHAKE, 0, 1));
	ASSERT_EQ(6, send_hs(self->server, QUIC_CRYPTO_HANDSHAKE, "server", 6));

	/* The client's: the "ServerHello" carries the server's parameters. */
	n = recv_hs(self->client, &level, buf, sizeof(buf));
	ASSERT_EQ(slen, n) TH_LOG("client recvmsg: %s", strerror(errno));
	EXPECT_EQ(QUIC_CRYPTO_INITIAL, level);
	ASSERT_EQ(0, setsockopt(self->client, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
				buf, n)) TH_LOG("client peer parameters: %s", strerror(errno));
	ASSERT_EQ(0, secret(self->client, QUIC_CRYPTO_HANDSHAKE, 1, 1));
	ASSERT_EQ(0, secret(self->client, QUIC_CRYPTO_HANDSHAKE, 0, 0));
	n = recv_hs(self->client, &level, buf, sizeof(buf));
	ASSERT_EQ(6, n) TH_LOG("client recvmsg at Handshake level: %s", strerror(errno));
	EXPECT_EQ(QUIC_CRYPTO_HANDSHAKE, level);
	n = strlen(CLIENT_FINISHED);
	ASSERT_EQ(n, send_hs(self->client, QUIC_CRYPTO_HANDSHAKE, CLIENT_FINISHED, n));
	/* Both 1-RTT secrets complete the client's handshake. */
	ASSERT_EQ(0, secret(self->client, QUIC_CRYPTO_APP, 1, 1));
	ASSERT_EQ(0, secret(self->client, QUIC_CRYPTO_APP, 0, 0));

	/* The server installs its 1-RTT secrets once the client finished. */
	n = recv_hs(self->server, &level, buf, sizeof(buf));
	ASSERT_EQ((int)strlen(CLIENT_FINISHED), n);
	EXPECT_EQ(QUIC_CRYPTO_HANDSHAKE, level);
	ASSERT_EQ(0, secret(self->server, QUIC_CRYPTO_APP, 1, 0));
	ASSERT_EQ(0, secret(self->server, QUIC_CRYPTO_APP, 0, 1));
}

TEST_F(conn, handshake_and_streams)
{
	unsigned int flags = 0;
	char buf[256];
	long long id;
	int n;

	establish(_metadata, &self->p, "smb");

	/* A bidirectional stream of the client's, both ways. */
	n = send_stream(self->p.client, 0, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN,
			"hello from the client");
	ASSERT_EQ(21, n) TH_LOG("client stream send: %s", strerror(errno));
	n = recv_stream(self->p.server, &id, &flags, buf, sizeof(buf));
	ASSERT_EQ(21, n) TH_LOG("server stream recv: %s", strerror(errno));
	EXPECT_EQ(0, id);
	EXPECT_TRUE(flags & MSG_QUIC_STREAM_FIN);
	EXPECT_STREQ("hello from the client", buf);

	n = send_stream(self->p.server, 0, MSG_QUIC_STREAM_FIN, "hello back");
	ASSERT_EQ(10, n) TH_LOG("server stream send: %s", strerror(errno));
	n = recv_stream(self->p.client, &id, &flags, buf, sizeof(buf));
	ASSERT_EQ(10, n) TH_LOG("client stream recv: %s", strerror(errno));
	EXPECT_EQ(0, id);
	EXPECT_STREQ("hello back", buf);
}

TEST_F(conn, accepted_socket_reports_role_and_alpn)
{
	unsigned char tok[64];
	socklen_t len = sizeof(tok);
	char alpn[32] = {};

	establish(_metadata, &self->p, "smb");
	/* Handshake libraries tell a server socket by this. */
	EXPECT_EQ(-1, getsockopt(self->p.server, SOL_QUIC, QUIC_SOCKOPT_TOKEN, tok, &len));
	EXPECT_EQ(EINVAL, errno);
	len = sizeof(tok);
	EXPECT_EQ(0, getsockopt(self->p.client, SOL_QUIC, QUIC_SOCKOPT_TOKEN, tok, &len));
	len = sizeof(alpn);
	ASSERT_EQ(0, getsockopt(self->p.server, SOL_QUIC, QUIC_SOCKOPT_ALPN, alpn, &len));
	EXPECT_STREQ("smb", alpn);
}

TEST_F(conn, wrong_alpn_is_refused)
{
	unsigned char tp[512], hello[1024], buf[64];
	socklen_t tlen = sizeof(tp);
	int hlen, level;

	ASSERT_EQ(0, connect(self->p.client, (struct sockaddr *)&self->p.addr, self->p.len));
	ASSERT_EQ(0, getsockopt(self->p.client, SOL_QUIC, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
				tp, &tlen));
	hlen = client_hello(hello, "h3", tp, tlen);
	ASSERT_EQ(hlen, send_hs(self->p.client, QUIC_CRYPTO_INITIAL, hello, hlen));
	/* The endpoint closes with the no_application_protocol alert. */
	EXPECT_EQ(-1, recv_hs(self->p.client, &level, buf, sizeof(buf)));
	EXPECT_EQ(ECONNREFUSED, errno);
}

TEST_HARNESS_MAIN
