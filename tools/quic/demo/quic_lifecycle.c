// SPDX-License-Identifier: GPL-2.0
/*
 * The README's demo: the life of IPPROTO_QUIC sockets, from userspace, as
 * the QUIC kernel sees it. Grows into a full QUIC transfer as the stack does.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/quic.h>

#ifndef IPPROTO_QUIC
#define IPPROTO_QUIC 261
#endif
#ifndef SOL_QUIC
#define SOL_QUIC 288
#endif

static int failures;

#define STEP(what, call) do {						\
	int __r = (call);						\
	printf("  %-44s %s%s\n", what, __r < 0 ? "FAILED: " : "ok",	\
	       __r < 0 ? strerror(errno) : "");				\
	if (__r < 0)							\
		failures++;						\
} while (0)

static void lifecycle(int family, int type)
{
	struct sockaddr_storage ss = {}, got = {};
	socklen_t len, glen = sizeof(got), ilen = sizeof(int);
	char host[INET6_ADDRSTRLEN];
	int fd, proto = 0;

	printf("%s %s:\n", family == AF_INET ? "AF_INET" : "AF_INET6",
	       type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM");
	fd = socket(family, type, IPPROTO_QUIC);
	STEP("socket(..., IPPROTO_QUIC)", fd);
	if (fd < 0)
		return;
	STEP("getsockopt(SO_PROTOCOL)", getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &ilen));
	printf("  %-44s %d\n", "  protocol", proto);
	if (proto != IPPROTO_QUIC)
		failures++;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(4433);
		inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4433);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	STEP("bind(loopback:4433)", bind(fd, (struct sockaddr *)&ss, len));
	STEP("getsockname()", getsockname(fd, (struct sockaddr *)&got, &glen));
	if (family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&got)->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&got)->sin6_addr, host, sizeof(host));
	printf("  %-44s %s port %d\n", "  bound to", host,
	       ntohs(((struct sockaddr_in *)&got)->sin_port));
	STEP("setsockopt(QUIC_SOCKOPT_ALPN, \"smb,h3\")",
	     setsockopt(fd, SOL_QUIC, QUIC_SOCKOPT_ALPN, "smb,h3", 6));
	STEP("listen()", listen(fd, 16));
	STEP("close()", close(fd));
}

int main(void)
{
	lifecycle(AF_INET, SOCK_STREAM);
	lifecycle(AF_INET, SOCK_DGRAM);
	lifecycle(AF_INET6, SOCK_STREAM);
	lifecycle(AF_INET6, SOCK_DGRAM);
	printf("%s\n", failures ? "QUIC socket lifecycle: FAILED" : "QUIC socket lifecycle: ok");
	return failures ? 1 : 0;
}
