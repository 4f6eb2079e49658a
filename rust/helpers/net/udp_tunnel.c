// SPDX-License-Identifier: GPL-2.0

#include <net/route.h>
#include <net/sock.h>
#include <net/udp_tunnel.h>

#if IS_BUILTIN(CONFIG_NET_UDP_TUNNEL)

__rust_helper void *rust_helper_rcu_dereference_sk_user_data(const struct sock *sk)
{
	return rcu_dereference_sk_user_data(sk);
}

__rust_helper void rust_helper_udp_tunnel_set_gro(struct sock *sk, bool on)
{
	udp_assign_bit(GRO_ENABLED, sk, on);
}

__rust_helper bool rust_helper_udp_tunnel_gro_enabled(const struct sock *sk)
{
	return udp_test_bit(GRO_ENABLED, sk);
}

__rust_helper struct rtable *
rust_helper_ip_route_output_ports(struct net *net, struct flowi4 *fl4,
				  const struct sock *sk, __be32 daddr,
				  __be32 saddr, __be16 dport, __be16 sport,
				  __u8 proto, __u8 tos, int oif)
{
	return ip_route_output_ports(net, fl4, sk, daddr, saddr, dport, sport,
				     proto, tos, oif);
}

__rust_helper int rust_helper_ip4_dst_hoplimit(const struct dst_entry *dst)
{
	return ip4_dst_hoplimit(dst);
}

#if IS_BUILTIN(CONFIG_IPV6)
__rust_helper int rust_helper_inet6_iif(const struct sk_buff *skb)
{
	return inet6_iif(skb);
}
#endif /* IS_BUILTIN(CONFIG_IPV6) */

#endif /* IS_BUILTIN(CONFIG_NET_UDP_TUNNEL) */
