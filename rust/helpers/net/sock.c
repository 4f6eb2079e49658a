// SPDX-License-Identifier: GPL-2.0

#include <linux/sockptr.h>
#include <net/sock.h>

#ifdef CONFIG_NET

__rust_helper void rust_helper_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

__rust_helper void rust_helper_sock_put(struct sock *sk)
{
	sock_put(sk);
}

__rust_helper void rust_helper_lock_sock(struct sock *sk)
{
	lock_sock(sk);
}

__rust_helper int rust_helper_copy_from_sockptr_offset(void *dst, sockptr_t src,
						       size_t offset, size_t size)
{
	return copy_from_sockptr_offset(dst, src, offset, size);
}

#endif /* CONFIG_NET */
