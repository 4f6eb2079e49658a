/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libquic's public API, implemented by this library (libquic.so, built
 * from tools/quic/handshake with rustls): the userspace TLS 1.3 handshake
 * of IPPROTO_QUIC sockets and stream I/O helpers.
 *
 * Handshake functions return 0 or a negative errno. quic_sendmsg() and
 * quic_recvmsg() return a byte count, or -1 with errno set.
 */
#ifndef _NETINET_QUIC_H
#define _NETINET_QUIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/quic.h>

#ifndef SOL_QUIC
#define SOL_QUIC	288
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Client handshake on a connected socket. The server certificate is
 * verified against the system CA bundle as @hostname (or the peer's IP
 * address if NULL). @pkey_file is libquic's pre-shared key file: PSK is
 * not supported, pass NULL (-EOPNOTSUPP otherwise). @alpns: NULL or a
 * comma-separated list, e.g. "h3,hq-interop".
 */
int quic_client_handshake(int sockfd, const char *pkey_file,
			  const char *hostname, const char *alpns);

/*
 * Server handshake on an accepted socket with a PEM private key and
 * certificate chain. A NULL @cert_file (libquic's PSK mode) is not
 * supported (-EOPNOTSUPP). @alpns: NULL (use the socket's
 * QUIC_SOCKOPT_ALPN) or a comma-separated list.
 */
int quic_server_handshake(int sockfd, const char *pkey_file,
			  const char *cert_file, const char *alpns);

/*
 * libquic drives a caller-configured gnutls session here. This library
 * has no gnutls: always -EOPNOTSUPP.
 */
int quic_handshake(void *session);

/* Send @len bytes on stream @sid with MSG_QUIC_STREAM_* @flags. */
ssize_t quic_sendmsg(int sockfd, const void *msg, size_t len,
		     int64_t sid, uint32_t flags);

/*
 * Receive into @msg. *@flags: recvmsg flags in; msg_flags and stream
 * flags out. *@sid: the stream ID (-1 for a datagram or an event).
 * @sid and @flags may be NULL.
 */
ssize_t quic_recvmsg(int sockfd, void *msg, size_t len,
		     int64_t *sid, uint32_t *flags);

/* Most verbose syslog level logged (default LOG_NOTICE). */
void quic_set_log_level(int level);

/* Where log messages go; NULL restores stderr. */
void quic_set_log_func(void (*func)(int level, const char *msg));

#ifdef __cplusplus
}
#endif

#endif /* _NETINET_QUIC_H */
