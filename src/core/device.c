/* SPDX-License-Identifier: MIT */
/* The device's life and configuration; the data path is in send.c and
 * receive.c, the handshake in handshake.c, timers in timers.c. */
#include "../crypto/crypto.h"
#include "peer.h"

const char *const cwg_drop_names[CWG_DROP_MAX] = {
	[CWG_DROP_BAD_LENGTH] = "bad_length",
	[CWG_DROP_UNKNOWN_TYPE] = "unknown_type",
	[CWG_DROP_BAD_MAC1] = "bad_mac1",
	[CWG_DROP_BAD_MAC2] = "bad_mac2",
	[CWG_DROP_HANDSHAKE_INVALID] = "handshake_invalid",
	[CWG_DROP_REPLAYED_TIMESTAMP] = "replayed_timestamp",
	[CWG_DROP_FLOOD] = "flood",
	[CWG_DROP_RATE_LIMITED] = "rate_limited",
	[CWG_DROP_UNKNOWN_INDEX] = "unknown_index",
	[CWG_DROP_BAD_TAG] = "bad_tag",
	[CWG_DROP_REPLAYED_COUNTER] = "replayed_counter",
	[CWG_DROP_KEY_EXPIRED] = "key_expired",
	[CWG_DROP_NO_ROUTE] = "no_route",
	[CWG_DROP_NO_ENDPOINT] = "no_endpoint",
	[CWG_DROP_NOT_ALLOWED] = "not_allowed",
	[CWG_DROP_BAD_INNER] = "bad_inner",
	[CWG_DROP_STAGED_OVERFLOW] = "staged_overflow",
	[CWG_DROP_NO_KEY] = "no_key",
	[CWG_DROP_NO_BUFFER] = "no_buffer",
	[CWG_DROP_NO_PRIVATE_KEY] = "no_private_key",
};

static void default_rng(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	cwg_random(buf, len);
}

static bool is_zero(const uint8_t *k)
{
	static const uint8_t zero[CWG_KEY_LEN];

	return cwg_ct_equal(k, zero, CWG_KEY_LEN);
}

struct cwg_device *cwg_device_new(cwg_rng_fn rng, void *rng_ctx)
{
	struct cwg_device *dev = cwg_zalloc(sizeof(*dev));
	uint8_t seed[16];

	if (!dev)
		return NULL;
	dev->rng = rng ? rng : default_rng;
	dev->rng_ctx = rng_ctx;
	dev->rng(dev->rng_ctx, seed, sizeof(seed));
	if (cwg_index_table_init(&dev->index, seed) < 0)
		goto fail;
	dev->rng(dev->rng_ctx, seed, sizeof(seed));
	if (cwg_pubkey_table_init(&dev->peers_by_key, seed) < 0) {
		cwg_index_table_free(&dev->index);
		goto fail;
	}
	dev->rng(dev->rng_ctx, seed, sizeof(seed));
	cwg_ratelimiter_init(&dev->ratelimiter, seed);
	cwg_wipe(seed, sizeof(seed));
	cwg_rwlock_init(&dev->cfg_lock);
	cwg_mutex_init(&dev->index_lock);
	cwg_mutex_init(&dev->flush_lock);
	cwg_allowedips_init(&dev->allowedips);
	cwg_cookie_checker_init(&dev->cookie);
	dev->mtu = 1420;
	dev->staged_limit = CWG_STAGED_LIMIT_DEFAULT;
	return dev;
fail:
	cwg_free(dev);
	return NULL;
}

void cwg_device_free(struct cwg_device *dev)
{
	if (!dev)
		return;
	cwg_rwlock_wrlock(&dev->cfg_lock);
	cwg_device_remove_all_peers(dev);
	cwg_rwlock_unlock(&dev->cfg_lock);
	cwg_allowedips_free(&dev->allowedips);
	cwg_pubkey_table_free(&dev->peers_by_key);
	cwg_index_table_free(&dev->index);
	cwg_cookie_checker_destroy(&dev->cookie);
	cwg_ratelimiter_destroy(&dev->ratelimiter);
	cwg_mutex_destroy(&dev->index_lock);
	cwg_mutex_destroy(&dev->flush_lock);
	cwg_rwlock_destroy(&dev->cfg_lock);
	cwg_wipe(dev, sizeof(*dev));
	cwg_free(dev);
}

void cwg_device_set_wall_offset(struct cwg_device *dev, int64_t off)
{
	cwg_atomic_store_relaxed(&dev->wall_offset, off);
}

void cwg_device_set_mtu(struct cwg_device *dev, uint32_t mtu)
{
	cwg_atomic_store_relaxed(&dev->mtu, mtu);
}

void cwg_device_set_staged_limit(struct cwg_device *dev, uint32_t limit)
{
	cwg_atomic_store_relaxed(&dev->staged_limit, limit);
}

void cwg_device_set_handshake_backlog(struct cwg_device *dev, uint32_t backlog,
				      uint64_t now)
{
	cwg_atomic_store_relaxed(&dev->backlog, backlog);
	if (backlog >= CWG_UNDER_LOAD_BACKLOG)
		cwg_atomic_store_relaxed(&dev->last_under_load, now);
}

void cwg_device_get_stats(struct cwg_device *dev, struct cwg_device_stats *st)
{
	const uint64_t *src = (const uint64_t *)&dev->stats;
	uint64_t *dst = (uint64_t *)st;
	size_t i;

	for (i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = cwg_atomic_load_relaxed(&src[i]);
}

void cwg_device_cfg_lock(struct cwg_device *dev)
{
	cwg_rwlock_wrlock(&dev->cfg_lock);
}

void cwg_device_cfg_rdlock(struct cwg_device *dev)
{
	cwg_rwlock_rdlock(&dev->cfg_lock);
}

void cwg_device_cfg_unlock(struct cwg_device *dev)
{
	cwg_rwlock_unlock(&dev->cfg_lock);
}

void cwg_device_cfg_batch_begin(struct cwg_device *dev)
{
	cwg_atomic_fetch_add(&dev->cfg_batches, 1);
}

void cwg_device_cfg_batch_end(struct cwg_device *dev)
{
	uint32_t n = cwg_atomic_load(&dev->cfg_batches);

	/* An end without a begin is ignored, never a count that wrapped. */
	while (n && !__atomic_compare_exchange_n(&dev->cfg_batches, &n, n - 1,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
		;
}

/* DH(our static, their static), computed once per key change; zeros when
 * either is missing or the result is degenerate, which makes handshakes
 * with that peer fail cleanly. */
static void precompute_ss(struct cwg_device *dev, struct cwg_peer *peer)
{
	if (!dev->have_identity ||
	    !cwg_x25519(peer->ss, dev->static_priv, peer->pubkey.pubkey))
		cwg_memset(peer->ss, 0, sizeof(peer->ss));
}

void cwg_device_set_private_key(struct cwg_device *dev, const uint8_t *key)
{
	uint8_t priv[CWG_KEY_LEN], pub[CWG_KEY_LEN];
	struct cwg_pubkey_entry *e;
	struct cwg_peer *peer;

	cwg_lock_assert_wrlocked(&dev->cfg_lock);
	if (!key || is_zero(key)) {
		if (!dev->have_identity)
			return;
		dev->have_identity = false;
		cwg_wipe(dev->static_priv, CWG_KEY_LEN);
		cwg_wipe(dev->static_pub, CWG_KEY_LEN);
		cwg_cookie_checker_set_key(&dev->cookie, NULL);
	} else {
		cwg_memcpy(priv, key, CWG_KEY_LEN);
		cwg_x25519_clamp(priv);
		if (dev->have_identity &&
		    cwg_ct_equal(priv, dev->static_priv, CWG_KEY_LEN)) {
			cwg_wipe(priv, sizeof(priv));
			return;
		}
		if (!cwg_x25519_public(pub, priv)) {
			cwg_wipe(priv, sizeof(priv));
			return;
		}
		/* A peer with our own key cannot be talked to. */
		e = cwg_pubkey_table_find(&dev->peers_by_key, pub);
		if (e)
			cwg_device_remove_peer(
				dev, CWG_CONTAINER_OF(e, struct cwg_peer, pubkey));
		cwg_memcpy(dev->static_priv, priv, CWG_KEY_LEN);
		cwg_memcpy(dev->static_pub, pub, CWG_KEY_LEN);
		dev->have_identity = true;
		cwg_cookie_checker_set_key(&dev->cookie, pub);
		cwg_wipe(priv, sizeof(priv));
	}
	for (peer = dev->first; peer; peer = peer->next) {
		precompute_ss(dev, peer);
		cwg_mutex_lock(&peer->lock);
		cwg_peer_expire_current_keypairs(peer);
		cwg_mutex_unlock(&peer->lock);
	}
}

bool cwg_device_get_private_key(struct cwg_device *dev,
				uint8_t key[CWG_KEY_LEN])
{
	if (dev->have_identity)
		cwg_memcpy(key, dev->static_priv, CWG_KEY_LEN);
	return dev->have_identity;
}

bool cwg_device_get_public_key(struct cwg_device *dev, uint8_t key[CWG_KEY_LEN])
{
	if (dev->have_identity)
		cwg_memcpy(key, dev->static_pub, CWG_KEY_LEN);
	return dev->have_identity;
}

struct cwg_peer *cwg_device_find_peer(struct cwg_device *dev,
				      const uint8_t pubkey[CWG_KEY_LEN])
{
	struct cwg_pubkey_entry *e = cwg_pubkey_table_find(&dev->peers_by_key,
							   pubkey);

	return e ? CWG_CONTAINER_OF(e, struct cwg_peer, pubkey) : NULL;
}

int cwg_device_add_peer(struct cwg_device *dev,
			const uint8_t pubkey[CWG_KEY_LEN],
			struct cwg_peer **out)
{
	struct cwg_peer *peer;

	cwg_lock_assert_wrlocked(&dev->cfg_lock);
	if (dev->have_identity &&
	    cwg_ct_equal(pubkey, dev->static_pub, CWG_KEY_LEN))
		return -CWG_EINVAL;
	if (cwg_device_find_peer(dev, pubkey))
		return -CWG_EEXIST;
	peer = cwg_zalloc(sizeof(*peer));
	if (!peer)
		return -CWG_ENOMEM;
	cwg_memcpy(peer->pubkey.pubkey, pubkey, CWG_KEY_LEN);
	if (cwg_pubkey_table_add(&dev->peers_by_key, &peer->pubkey) < 0) {
		cwg_free(peer);
		return -CWG_ENOMEM;
	}
	peer->refcount = 1; /* the device's */
	peer->dev = dev;
	cwg_mutex_init(&peer->lock);
	cwg_cookie_maker_init(&peer->cookie, pubkey);
	cwg_pkt_list_init(&peer->staged);
	precompute_ss(dev, peer);
	peer->prev = dev->last;
	if (dev->last)
		dev->last->next = peer;
	else
		dev->first = peer;
	dev->last = peer;
	dev->peer_count++;
	*out = peer;
	return 0;
}

void cwg_peer_get(struct cwg_peer *peer)
{
	cwg_atomic_add_relaxed(&peer->refcount, 1);
}

void cwg_peer_put(struct cwg_peer *peer)
{
	if (cwg_atomic_sub_fetch(&peer->refcount, 1))
		return;
	cwg_mutex_destroy(&peer->lock);
	cwg_wipe(peer, sizeof(*peer));
	cwg_free(peer);
}

/*
 * Unlinks the peer from everything that finds it (the caller holds
 * cfg_lock for writing, so nobody is looking), ends its handshake,
 * sessions, timers and queue, wipes its secrets, and drops the device's
 * reference: packets still between prepare and seal keep the memory (not
 * the keys they do not need) until they are sealed.
 */
void cwg_device_remove_peer(struct cwg_device *dev, struct cwg_peer *peer)
{
	cwg_lock_assert_wrlocked(&dev->cfg_lock);
	cwg_mutex_lock(&peer->lock);
	cwg_timers_stop(peer);
	cwg_handshake_clear(peer);
	cwg_peer_clear_keypairs(peer);
	cwg_staged_drop_all(peer, CWG_DROP_MAX);
	cwg_wipe(peer->psk, sizeof(peer->psk));
	cwg_wipe(peer->ss, sizeof(peer->ss));
	cwg_mutex_unlock(&peer->lock);
	/* No flush is running: it holds cfg_lock for reading. */
	cwg_mutex_lock(&dev->flush_lock);
	if (peer->flush_pending) {
		struct cwg_peer **pp = &dev->flush_head;

		while (*pp != peer)
			pp = &(*pp)->flush_next;
		cwg_atomic_store(pp, peer->flush_next);
	}
	cwg_mutex_unlock(&dev->flush_lock);
	cwg_allowedips_remove_owner(&dev->allowedips, &peer->allowedips);
	cwg_pubkey_table_remove(&dev->peers_by_key, &peer->pubkey);
	if (peer->prev)
		peer->prev->next = peer->next;
	else
		dev->first = peer->next;
	if (peer->next)
		peer->next->prev = peer->prev;
	else
		dev->last = peer->prev;
	dev->peer_count--;
	peer->next = peer->prev = NULL;
	cwg_peer_put(peer);
}

void cwg_device_remove_all_peers(struct cwg_device *dev)
{
	while (dev->first)
		cwg_device_remove_peer(dev, dev->first);
}

struct cwg_peer *cwg_device_first_peer(struct cwg_device *dev)
{
	return dev->first;
}

struct cwg_peer *cwg_peer_next(struct cwg_peer *peer)
{
	return peer->next;
}

uint32_t cwg_device_peer_count(struct cwg_device *dev)
{
	return dev->peer_count;
}

void cwg_peer_set_preshared_key(struct cwg_peer *peer, const uint8_t *psk)
{
	cwg_mutex_lock(&peer->lock);
	if (psk)
		cwg_memcpy(peer->psk, psk, CWG_KEY_LEN);
	else
		cwg_wipe(peer->psk, CWG_KEY_LEN);
	cwg_mutex_unlock(&peer->lock);
}

void cwg_peer_set_endpoint(struct cwg_peer *peer, const struct cwg_endpoint *ep)
{
	cwg_mutex_lock(&peer->lock);
	cwg_memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	peer->endpoint.family = ep->family;
	peer->endpoint.port = ep->port;
	cwg_memcpy(peer->endpoint.addr, ep->addr, 16);
	if (ep->family == 6)
		peer->endpoint.scope_id = ep->scope_id;
	cwg_mutex_unlock(&peer->lock);
}

void cwg_peer_set_endpoint_from(struct cwg_peer *peer,
				const struct cwg_endpoint *ep)
{
	cwg_lock_assert_held(&peer->lock);
	if (ep->family)
		peer->endpoint = *ep;
}

/* The destination's scope_id stays: it names the link to the peer's
 * address, not ours, and a link-local peer is unreachable without it. */
void cwg_peer_forget_src(struct cwg_peer *peer)
{
	cwg_lock_assert_held(&peer->lock);
	cwg_memset(peer->endpoint.src_addr, 0, sizeof(peer->endpoint.src_addr));
	peer->endpoint.src_ifindex = 0;
}

void cwg_peer_clear_endpoint_src(struct cwg_peer *peer)
{
	cwg_mutex_lock(&peer->lock);
	cwg_peer_forget_src(peer);
	cwg_mutex_unlock(&peer->lock);
}

void cwg_device_forget_sources(struct cwg_device *dev,
			       const struct cwg_peer *const *peers, uint32_t n)
{
	struct cwg_peer *p;
	uint32_t i;

	cwg_rwlock_rdlock(&dev->cfg_lock);
	for (p = dev->first; p; p = p->next) {
		for (i = 0; peers && i < n && peers[i] != p; i++)
			;
		if (peers && i == n)
			continue;
		cwg_mutex_lock(&p->lock);
		cwg_peer_forget_src(p);
		cwg_mutex_unlock(&p->lock);
	}
	cwg_rwlock_unlock(&dev->cfg_lock);
}

void cwg_peer_set_persistent_keepalive(struct cwg_peer *peer, uint16_t secs)
{
	cwg_mutex_lock(&peer->lock);
	if (secs && !peer->persistent_keepalive)
		peer->keepalive_requested = true;
	peer->persistent_keepalive = secs;
	if (!secs)
		peer->t_persistent_keepalive = 0;
	cwg_mutex_unlock(&peer->lock);
}

int cwg_peer_add_allowed_ip(struct cwg_peer *peer, int family,
			    const uint8_t *addr, uint8_t cidr)
{
	cwg_lock_assert_wrlocked(&peer->dev->cfg_lock);
	return cwg_allowedips_insert(&peer->dev->allowedips, family, addr, cidr,
				     &peer->allowedips);
}

int cwg_peer_remove_allowed_ip(struct cwg_peer *peer, int family,
			       const uint8_t *addr, uint8_t cidr)
{
	cwg_lock_assert_wrlocked(&peer->dev->cfg_lock);
	return cwg_allowedips_remove(&peer->dev->allowedips, family, addr, cidr,
				     &peer->allowedips) < 0 ?
		       -CWG_EINVAL :
		       0;
}

void cwg_peer_clear_allowed_ips(struct cwg_peer *peer)
{
	cwg_lock_assert_wrlocked(&peer->dev->cfg_lock);
	cwg_allowedips_remove_owner(&peer->dev->allowedips, &peer->allowedips);
}

void cwg_peer_replace_allowed_ips_begin(struct cwg_peer *peer)
{
	cwg_lock_assert_wrlocked(&peer->dev->cfg_lock);
	cwg_allowedips_mark_owner(&peer->dev->allowedips, &peer->allowedips);
}

void cwg_peer_replace_allowed_ips_end(struct cwg_peer *peer)
{
	cwg_lock_assert_wrlocked(&peer->dev->cfg_lock);
	cwg_allowedips_sweep_owner(&peer->dev->allowedips, &peer->allowedips);
}

void cwg_peer_get_info(struct cwg_peer *peer, struct cwg_peer_info *info)
{
	cwg_memcpy(info->public_key, peer->pubkey.pubkey, CWG_KEY_LEN);
	info->persistent_keepalive = peer->persistent_keepalive;
	cwg_mutex_lock(&peer->lock);
	cwg_memcpy(info->preshared_key, peer->psk, CWG_KEY_LEN);
	info->endpoint = peer->endpoint;
	info->last_handshake_wall_ns = peer->last_handshake_wall_ns;
	cwg_mutex_unlock(&peer->lock);
	info->rx_bytes = cwg_atomic_load_relaxed(&peer->rx_bytes);
	info->tx_bytes = cwg_atomic_load_relaxed(&peer->tx_bytes);
}

int cwg_peer_walk_allowed_ips(struct cwg_peer *peer,
			      int (*fn)(void *ctx, int family,
					const uint8_t *addr, uint8_t cidr),
			      void *ctx)
{
	return cwg_allowedips_walk(&peer->dev->allowedips, &peer->allowedips,
				   fn, ctx);
}
