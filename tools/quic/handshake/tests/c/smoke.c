// SPDX-License-Identifier: GPL-2.0
/*
 * Links against libquic.so through <netinet/quic.h>: checks the header
 * against the ABI (struct layouts) and the C API's argument handling.
 * Without a kernel with IPPROTO_QUIC, only the failure paths can run.
 */
#include <netinet/quic.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

_Static_assert(sizeof(struct quic_crypto_secret) == 56, "quic_crypto_secret");
_Static_assert(offsetof(struct quic_crypto_secret, type) == 4, "type");
_Static_assert(offsetof(struct quic_crypto_secret, secret) == 8, "secret");
_Static_assert(sizeof(struct quic_config) == 28, "quic_config");
_Static_assert(offsetof(struct quic_config, keepalive_probe_interval) == 24, "keepalive");
_Static_assert(sizeof(struct quic_connection_close) == 72, "quic_connection_close");
_Static_assert(sizeof(struct quic_stream_info) == 16, "quic_stream_info");
_Static_assert(sizeof(struct quic_handshake_info) == 1, "quic_handshake_info");
_Static_assert(QUIC_SOCKOPT_TRANSPORT_PARAM_EXT == 14, "option");
_Static_assert(QUIC_CRYPTO_EARLY == 3, "level");

static int logged;

static void log_func(int level, const char *msg)
{
	(void)level;
	if (msg && msg[0])
		logged++;
}

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
			return 1;					\
		}							\
	} while (0)

int main(void)
{
	char buf[16];
	int64_t sid = 0;
	uint32_t flags = 0;
	int udp, ret;

	quic_set_log_func(log_func);
	quic_set_log_level(7);

	CHECK(quic_handshake(NULL) == -EOPNOTSUPP);
	CHECK(quic_server_handshake(-1, "key.pem", NULL, NULL) == -EOPNOTSUPP);
	CHECK(quic_client_handshake(-1, "psk.txt", "localhost", NULL) == -EOPNOTSUPP);
	CHECK(quic_client_handshake(-1, NULL, "localhost", "h3") == -EBADF);
	CHECK(quic_client_handshake(-1, NULL, NULL, NULL) == -EBADF);
	CHECK(quic_server_handshake(-1, "key.pem", "cert.pem", "h3") == -EBADF);

	/* Not a QUIC socket: SOL_QUIC options fail there (the errno is the
	 * UDP socket's: EOPNOTSUPP on Linux). */
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(udp >= 0);
	ret = quic_client_handshake(udp, NULL, "localhost", "h3");
	CHECK(ret < 0 && ret != -EBADF);
	close(udp);

	errno = 0;
	CHECK(quic_sendmsg(-1, "x", 1, 0, MSG_QUIC_STREAM_NEW) == -1 && errno == EBADF);
	errno = 0;
	CHECK(quic_sendmsg(-1, NULL, 1, 0, 0) == -1 && errno == EFAULT);
	errno = 0;
	CHECK(quic_recvmsg(-1, buf, sizeof(buf), &sid, &flags) == -1 && errno == EBADF);
	errno = 0;
	CHECK(quic_recvmsg(-1, NULL, sizeof(buf), &sid, &flags) == -1 && errno == EFAULT);
	/* NULL sid and flags are allowed, as with libquic. */
	errno = 0;
	CHECK(quic_recvmsg(-1, buf, sizeof(buf), NULL, NULL) == -1 && errno == EBADF);

	CHECK(logged > 0);
	quic_set_log_func(NULL);
	printf("ok\n");
	return 0;
}
