/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QUIC for kernel callers (SMB, NFS, ...).
 *
 * A kernel caller uses the same socket API as userspace:
 *
 *	sock_create_kern(net, AF_INET, SOCK_DGRAM, IPPROTO_QUIC, &sock);
 *	kernel_bind() / kernel_listen() / kernel_accept() / kernel_connect();
 *	quic_kernel_setsockopt(sock->sk, QUIC_SOCKOPT_ALPN, "smb", 3);
 *
 * and hands the TLS handshake of the socket to userspace (tlshd) with the
 * handshake netlink upcall, exactly like kTLS callers:
 *
 *	tls_client_hello_x509(&args, GFP_KERNEL);	(args.ta_sock = sock)
 *
 * tlshd recognises a QUIC socket by getsockopt(SO_PROTOCOL) ==
 * IPPROTO_QUIC and runs the QUIC handshake on it. Stream data then moves
 * with kernel_sendmsg()/kernel_recvmsg() and a QUIC_STREAM_INFO cmsg.
 *
 * The option accessors below take kernel buffers; the option names and
 * structures are those of include/uapi/linux/quic.h.
 */

#ifndef __NET_QUIC_QUIC_H
#define __NET_QUIC_QUIC_H

#include <linux/net.h>
#include <linux/sockptr.h>
#include <net/sock.h>
#include <uapi/linux/quic.h>

/**
 * quic_kernel_setsockopt - set a QUIC socket option from the kernel
 * @sk: a QUIC socket created with sock_create_kern()
 * @optname: a QUIC_SOCKOPT_* option
 * @optval: the value, in kernel memory
 * @optlen: its length
 *
 * Return: 0 or a negative errno, as setsockopt(2) would.
 */
static inline int quic_kernel_setsockopt(struct sock *sk, int optname,
					 void *optval, unsigned int optlen)
{
	return do_sock_setsockopt(sk->sk_socket, false, SOL_QUIC, optname,
				  KERNEL_SOCKPTR(optval), optlen);
}

/**
 * quic_kernel_getsockopt - get a QUIC socket option from the kernel
 * @sk: a QUIC socket created with sock_create_kern()
 * @optname: a QUIC_SOCKOPT_* option
 * @optval: the buffer, in kernel memory
 * @optlen: in: the buffer size; out: the length of the value
 *
 * Return: 0 or a negative errno, as getsockopt(2) would.
 */
static inline int quic_kernel_getsockopt(struct sock *sk, int optname,
					 void *optval, unsigned int *optlen)
{
	return do_sock_getsockopt(sk->sk_socket, false, SOL_QUIC, optname,
				  KERNEL_SOCKPTR(optval), KERNEL_SOCKPTR(optlen));
}

#endif /* __NET_QUIC_QUIC_H */
