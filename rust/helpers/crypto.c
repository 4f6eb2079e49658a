// SPDX-License-Identifier: GPL-2.0

#include <crypto/aead.h>
#include <crypto/chacha.h>
#include <crypto/sha2.h>
#include <crypto/utils.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

#if IS_BUILTIN(CONFIG_CRYPTO_AEAD2)

__rust_helper void rust_helper_crypto_free_aead(struct crypto_aead *tfm)
{
	crypto_free_aead(tfm);
}

__rust_helper unsigned int rust_helper_crypto_aead_ivsize(struct crypto_aead *tfm)
{
	return crypto_aead_ivsize(tfm);
}

__rust_helper unsigned int rust_helper_crypto_aead_reqsize(struct crypto_aead *tfm)
{
	return crypto_aead_reqsize(tfm);
}

__rust_helper struct aead_request *
rust_helper_aead_request_alloc(struct crypto_aead *tfm, gfp_t gfp)
{
	return aead_request_alloc(tfm, gfp);
}

__rust_helper void rust_helper_aead_request_free(struct aead_request *req)
{
	aead_request_free(req);
}

__rust_helper void rust_helper_aead_request_set_tfm(struct aead_request *req,
						    struct crypto_aead *tfm)
{
	aead_request_set_tfm(req, tfm);
}

__rust_helper void
rust_helper_aead_request_set_callback(struct aead_request *req, u32 flags,
				      crypto_completion_t compl, void *data)
{
	aead_request_set_callback(req, flags, compl, data);
}

__rust_helper void
rust_helper_aead_request_set_crypt(struct aead_request *req,
				   struct scatterlist *src,
				   struct scatterlist *dst,
				   unsigned int cryptlen, u8 *iv)
{
	aead_request_set_crypt(req, src, dst, cryptlen, iv);
}

__rust_helper void rust_helper_aead_request_set_ad(struct aead_request *req,
						   unsigned int assoclen)
{
	aead_request_set_ad(req, assoclen);
}

__rust_helper void rust_helper_sg_set_buf(struct scatterlist *sg,
					  const void *buf, unsigned int buflen)
{
	sg_set_buf(sg, buf, buflen);
}

__rust_helper bool rust_helper_virt_addr_valid(const void *addr)
{
	return virt_addr_valid(addr);
}

#endif /* CONFIG_CRYPTO_AEAD2 */

#if IS_BUILTIN(CONFIG_CRYPTO_LIB_CHACHA)

__rust_helper void rust_helper_chacha_init(struct chacha_state *state,
					   const u32 *key, const u8 *iv)
{
	chacha_init(state, key, iv);
}

#endif /* CONFIG_CRYPTO_LIB_CHACHA */

#if IS_BUILTIN(CONFIG_CRYPTO_LIB_UTILS)

__rust_helper int rust_helper_crypto_memneq(const void *a, const void *b,
					    size_t size)
{
	return crypto_memneq(a, b, size);
}

#endif /* CONFIG_CRYPTO_LIB_UTILS */

#if IS_BUILTIN(CONFIG_CRYPTO_LIB_SHA256)

__rust_helper void rust_helper_hmac_sha256_init(struct hmac_sha256_ctx *ctx,
						const struct hmac_sha256_key *key)
{
	hmac_sha256_init(ctx, key);
}

__rust_helper void rust_helper_hmac_sha256_update(struct hmac_sha256_ctx *ctx,
						  const u8 *data,
						  size_t data_len)
{
	hmac_sha256_update(ctx, data, data_len);
}

#endif /* CONFIG_CRYPTO_LIB_SHA256 */

#if IS_BUILTIN(CONFIG_CRYPTO_LIB_SHA512)

__rust_helper void rust_helper_hmac_sha384_init(struct hmac_sha384_ctx *ctx,
						const struct hmac_sha384_key *key)
{
	hmac_sha384_init(ctx, key);
}

__rust_helper void rust_helper_hmac_sha384_update(struct hmac_sha384_ctx *ctx,
						  const u8 *data,
						  size_t data_len)
{
	hmac_sha384_update(ctx, data, data_len);
}

#endif /* CONFIG_CRYPTO_LIB_SHA512 */
