// SPDX-License-Identifier: GPL-2.0

#include <linux/hrtimer.h>
#include <linux/security.h>
#include <linux/signal.h>
#include <linux/sockptr.h>
#include <net/sock.h>

#ifdef CONFIG_NET

/* The protocol timer of a socket (rust/kernel/net/protocol/timer.rs). */
__rust_helper bool rust_helper_hrtimer_is_queued(struct hrtimer *timer)
{
	return hrtimer_is_queued(timer);
}

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

__rust_helper struct net *rust_helper_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

__rust_helper struct net *rust_helper_get_net(struct net *net)
{
	return get_net(net);
}

__rust_helper void rust_helper_put_net(struct net *net)
{
	put_net(net);
}

__rust_helper int rust_helper_sock_error(struct sock *sk)
{
	return sock_error(sk);
}

__rust_helper int rust_helper_sk_rmem_alloc_get(const struct sock *sk)
{
	return sk_rmem_alloc_get(sk);
}

__rust_helper int rust_helper_sk_wmem_alloc_get(const struct sock *sk)
{
	return sk_wmem_alloc_get(sk);
}

__rust_helper bool rust_helper_sock_writeable(const struct sock *sk)
{
	return sock_writeable(sk);
}

__rust_helper long rust_helper_sock_rcvtimeo(const struct sock *sk, bool noblock)
{
	return sock_rcvtimeo(sk, noblock);
}

__rust_helper long rust_helper_sock_sndtimeo(const struct sock *sk, bool noblock)
{
	return sock_sndtimeo(sk, noblock);
}

__rust_helper wait_queue_head_t *rust_helper_sk_sleep(struct sock *sk)
{
	return sk_sleep(sk);
}

__rust_helper spinlock_t *rust_helper_sk_slock(struct sock *sk)
{
	return &sk->sk_lock.slock;
}

__rust_helper void rust_helper_security_sk_clone(const struct sock *sk,
						 struct sock *newsk)
{
	security_sk_clone(sk, newsk);
}

__rust_helper bool rust_helper_sock_owned_by_user_nocheck(const struct sock *sk)
{
	return sock_owned_by_user_nocheck(sk);
}

__rust_helper int rust_helper_sk_add_backlog(struct sock *sk,
					     struct sk_buff *skb,
					     unsigned int limit)
{
	return sk_add_backlog(sk, skb, limit);
}

__rust_helper __u32
rust_helper_skb_queue_len_lockless(const struct sk_buff_head *list)
{
	return skb_queue_len_lockless(list);
}

__rust_helper void rust_helper_sock_poll_wait(struct file *filp,
					      struct socket *sock,
					      poll_table *p)
{
	sock_poll_wait(filp, sock, p);
}

/* For the socket wait tests: kernel threads take no signals by default. */

__rust_helper void rust_helper_allow_signal(int sig)
{
	allow_signal(sig);
}

__rust_helper void rust_helper_disallow_signal(int sig)
{
	disallow_signal(sig);
}

#endif /* CONFIG_NET */
