// SPDX-License-Identifier: GPL-2.0

#include <linux/skbuff.h>
#include <net/sock.h>

#ifdef CONFIG_NET

__rust_helper struct sk_buff *rust_helper_alloc_skb(unsigned int size,
						    gfp_t priority)
{
	return alloc_skb(size, priority);
}

__rust_helper void rust_helper_kfree_skb_reason(struct sk_buff *skb,
						enum skb_drop_reason reason)
{
	kfree_skb_reason(skb, reason);
}

__rust_helper void rust_helper_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

__rust_helper void rust_helper_skb_reserve(struct sk_buff *skb, int len)
{
	skb_reserve(skb, len);
}

__rust_helper unsigned int rust_helper_skb_headroom(const struct sk_buff *skb)
{
	return skb_headroom(skb);
}

__rust_helper int rust_helper_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

__rust_helper unsigned int rust_helper_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

__rust_helper int rust_helper_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

__rust_helper int rust_helper_skb_unclone(struct sk_buff *skb, gfp_t pri)
{
	return skb_unclone(skb, pri);
}

__rust_helper bool rust_helper_pskb_may_pull(struct sk_buff *skb,
					     unsigned int len)
{
	return pskb_may_pull(skb, len);
}

__rust_helper int rust_helper_pskb_trim(struct sk_buff *skb, unsigned int len)
{
	return pskb_trim(skb, len);
}

__rust_helper int rust_helper_skb_linearize(struct sk_buff *skb)
{
	return skb_linearize(skb);
}

__rust_helper int rust_helper_skb_cow_head(struct sk_buff *skb,
					   unsigned int headroom)
{
	return skb_cow_head(skb, headroom);
}

__rust_helper void rust_helper_skb_mark_not_on_list(struct sk_buff *skb)
{
	skb_mark_not_on_list(skb);
}

__rust_helper void rust_helper_skb_orphan(struct sk_buff *skb)
{
	skb_orphan(skb);
}

__rust_helper struct skb_shared_info *rust_helper_skb_shinfo(struct sk_buff *skb)
{
	return skb_shinfo(skb);
}

__rust_helper int rust_helper_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

__rust_helper int rust_helper_skb_transport_offset(const struct sk_buff *skb)
{
	return skb_transport_offset(skb);
}

/* Bitfields and members of anonymous unions, out of bindgen's reach. */

__rust_helper u8 rust_helper_skb_get_ip_summed(const struct sk_buff *skb)
{
	return skb->ip_summed;
}

__rust_helper void rust_helper_skb_set_ip_summed(struct sk_buff *skb, u8 v)
{
	skb->ip_summed = v;
}

__rust_helper void rust_helper_skb_set_csum_partial(struct sk_buff *skb,
						    u16 start, u16 offset)
{
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = start;
	skb->csum_offset = offset;
}

__rust_helper u32 rust_helper_skb_get_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

__rust_helper void rust_helper_skb_set_mark(struct sk_buff *skb, u32 mark)
{
	skb->mark = mark;
}

__rust_helper u32 rust_helper_skb_get_priority(const struct sk_buff *skb)
{
	return skb->priority;
}

__rust_helper void rust_helper_skb_set_priority(struct sk_buff *skb, u32 prio)
{
	skb->priority = prio;
}

__rust_helper __be16 rust_helper_skb_get_protocol(const struct sk_buff *skb)
{
	return skb->protocol;
}

#endif /* CONFIG_NET */
