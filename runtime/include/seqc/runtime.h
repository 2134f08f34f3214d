/*===- seqc/runtime.h - load and run seqc artifacts ----------------*- C -*-===
 *
 * The seqc runtime loads an artifact written by `seqc compile` (a directory
 * with model.so, weights.bin and manifest.json), maps its weights read-only
 * (or, if asked, copies them into huge pages) and runs sessions: prefill a
 * prompt, step one token
 * at a time, read the logits, save / restore / fork the recurrent state. It
 * also tokenizes text and samples tokens from logits, so that any C program
 * can generate text with it.
 *
 * Every fallible call returns a seqc_status: NULL on success, otherwise an
 * object holding a message, which the caller frees with seqc_status_free.
 * The runtime links neither MLIR nor LLVM.
 *
 * Threads: a loaded model is read-only after seqc_model_load returns, so any
 * number of threads may create and run sessions of one model at once, each
 * session used by one thread at a time (a session is not locked: two threads
 * feeding the same session is a data race). Sessions of one model share
 * nothing mutable; the compiled code's parallel loops share one process-wide
 * thread pool, which is safe to enter from several threads. A tokenizer may
 * be used from several threads at once (its caches are locked); an rng may
 * not (one per thread). seqc_model_free must not race with any use of the
 * model or its sessions. test/unit/RuntimeTest.cpp runs sessions on several
 * threads and checks the results against a run one after the other.
 *
 *===----------------------------------------------------------------------===*/

#ifndef SEQC_RUNTIME_H
#define SEQC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* The C ABI of this header, libseqcrt.so.N: raised when a struct or a
 * signature changes (1: seqc_load_options.weight_pages), so that a program
 * built against an older header keeps loading the library it was built
 * for. */
#define SEQC_RUNTIME_ABI 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seqc_status_t *seqc_status; /* NULL: success */
typedef struct seqc_model seqc_model;
typedef struct seqc_session seqc_session;
typedef struct seqc_tokenizer seqc_tokenizer;
typedef struct seqc_rng seqc_rng;

/* The message of a failed call ("" for NULL). */
const char *seqc_status_message(seqc_status status);
void seqc_status_free(seqc_status status);

/* Loads the artifact in `dir`, checking its files before it maps them:
 * model.so against the size and checksum weights.bin records (before
 * dlopen), the manifest against the layout the code reports, and the weights
 * against the manifest's checksum when verification is on (SEQC_VERIFY_AUTO,
 * the default: weights of at most SEQC_VERIFY_AUTO_MAX_BYTES). */
seqc_status seqc_model_load(const char *dir, seqc_model **out);

/* Verification of the weights' checksum at load (XXH64 of the mapped blob;
 * one core hashes several GB/s, docs/design.md has the measurement). */
enum {
  SEQC_VERIFY_AUTO = 0,   /* verify weights of at most the bound below */
  SEQC_VERIFY_ALWAYS = 1, /* verify (refuse artifacts without a checksum) */
  SEQC_VERIFY_NEVER = 2
};
#define SEQC_VERIFY_AUTO_MAX_BYTES ((size_t)256 << 20)
/* How the weights are held in memory. Decode reads every weight once per
 * token, so its speed depends on the pages that hold them: huge pages (2
 * MiB on x86-64) spare the TLB misses of 4 KiB ones (bench/weight_pages.py
 * measures the difference on a machine). */
enum {
  /* weights.bin mapped from the page cache, with madvise(MADV_HUGEPAGE):
   * the kernel may back some of it with huge pages, or none (it depends on
   * its support for huge pages of files and on what is cached). */
  SEQC_PAGES_FILE = 0,
  /* The weights copied into anonymous memory aligned to huge pages and
   * asked for them (transparent huge pages, where the OS allows them):
   * pages that do not depend on the page cache, for a load that reads the
   * file once. The copy is anonymous memory of the weights' size rounded
   * up to a huge page, beside the file's pages in the page cache (which
   * the kernel may reclaim). A copy the OS cannot map is an error. */
  SEQC_PAGES_HUGE_COPY = 1
};
/* Zero-initialize (C: = {0}): new fields default to 0. Adding a field
 * changes the ABI: see SEQC_RUNTIME_ABI. */
typedef struct seqc_load_options {
  int verify_weights; /* a SEQC_VERIFY_* mode */
  int weight_pages;   /* a SEQC_PAGES_* mode */
} seqc_load_options;
/* seqc_model_load with options (NULL: the defaults). */
seqc_status seqc_model_load_with(const char *dir,
                                 const seqc_load_options *options,
                                 seqc_model **out);
void seqc_model_free(seqc_model *model);
/* A manifest entry ("model", "vocab", "tokenizer", "description", ...), or
 * NULL when the manifest has no such key. */
const char *seqc_model_get(const seqc_model *model, const char *key);
int32_t seqc_model_vocab(const seqc_model *model);
/* Bytes of mapped weights. */
size_t seqc_model_weight_bytes(const seqc_model *model);
/* Bytes the OS holds in huge pages now in the mappings that hold the
 * weights (Linux: from /proc/self/smaps, at most the weights' size; 0 where
 * that cannot be read), and the SEQC_PAGES_* mode they were loaded with. */
size_t seqc_model_weight_huge_bytes(const seqc_model *model);
int seqc_model_weight_pages(const seqc_model *model);
/* The operation counters of a model whose code keeps them (target event,
 * from --target=neuro; the manifest's event_counters says their layout):
 * copies up to `n` into `out` and returns how many there are, 0 for other
 * models. Cumulative since the model was loaded, over all its sessions. */
size_t seqc_model_counters(const seqc_model *model, int64_t *out, size_t n);

/* A session holds the recurrent state and the latest logits. */
seqc_status seqc_session_create(seqc_model *model, seqc_session **out);
void seqc_session_free(seqc_session *session);
/* Back to the initial (empty) state. */
seqc_status seqc_session_reset(seqc_session *session);
/* Feeds `n` >= 1 tokens (in chunks of 128 through the prefill entry); the
 * logits become those after the last one. */
seqc_status seqc_session_prefill(seqc_session *session, const int32_t *tokens,
                                 size_t n);
/* As prefill, and writes the logits after every token to `logits`
 * (n * vocab floats). */
seqc_status seqc_session_prefill_all(seqc_session *session,
                                     const int32_t *tokens, size_t n,
                                     float *logits);
/* Feeds one token. */
seqc_status seqc_session_step(seqc_session *session, int32_t token);
/* The logits after the last token fed (vocab floats; zeros before any). */
const float *seqc_session_logits(const seqc_session *session);

/* The session's state buffer, read-only, and its size in bytes (laid out as
 * the manifest's state_* and kv_* entries say; valid until the next call on
 * the session). A GPU driver keeps the newest state on its device and
 * copies it back here; NULL (and 0 bytes) when that copy fails. */
const void *seqc_session_state_data(const seqc_session *session, size_t *bytes);

/* A read-only view of one layer's KV cache in a session: keys and values
 * are [heads, capacity, head_dim] arrays of `element_type`, of which the
 * first `tokens` rows per head are filled. Element (h, t, d) of the keys is
 * at keys + (h * strides[0] + t * strides[1] + d * strides[2]) elements.
 * Valid until the next call that feeds, resets or restores the session. */
typedef struct seqc_kv_view {
  int64_t layers; /* caches in the model (one per layer) */
  int64_t heads, capacity, head_dim;
  int64_t strides[3];       /* in elements */
  int64_t tokens;           /* tokens the cache holds */
  const char *element_type; /* "f32" */
  size_t element_bytes;
  const void *keys;
  const void *values;
} seqc_kv_view;
/* The view of layer `layer`'s cache, computed from the manifest's `kv_desc`
 * (include/seqc/Support/KVLayout.h). Refuses models without KV caches and
 * caches that are not plain full precision (quantized, evicting, scored or
 * 2-byte elements), saying which kind the cache is. */
seqc_status seqc_session_kv_view(const seqc_session *session, int64_t layer,
                                 seqc_kv_view *view);

/* Size of a saved state (state and logits, with a header naming the model). */
size_t seqc_session_state_size(const seqc_session *session);
seqc_status seqc_session_save(const seqc_session *session, void *buffer,
                              size_t size);
seqc_status seqc_session_restore(seqc_session *session, const void *buffer,
                                 size_t size);
/* A new session with a copy of this one's state and logits. */
seqc_status seqc_session_fork(const seqc_session *session, seqc_session **out);

/* Tokenizers: text <-> token ids. */

/* The tokenizer a model's manifest names (its `tokenizer` entry), reading
 * its vocabulary from `vocab_path` (NULL or "": the default file). Refuses a
 * model without one, and a tokenizer with more tokens than the model. */
seqc_status seqc_tokenizer_create_for_model(const seqc_model *model,
                                            const char *vocab_path,
                                            seqc_tokenizer **out);
/* The tokenizer called `name` ("bytes", "world" or "neox"). */
seqc_status seqc_tokenizer_create(const char *name, const char *vocab_path,
                                  seqc_tokenizer **out);
void seqc_tokenizer_free(seqc_tokenizer *tokenizer);
/* The number of token ids it knows. */
int32_t seqc_tokenizer_size(const seqc_tokenizer *tokenizer);
/* Encodes `len` bytes of text: writes at most `capacity` ids to `ids` and
 * sets *n to the number of ids of the text (call again with a larger buffer
 * when *n > capacity). */
seqc_status seqc_tokenizer_encode(const seqc_tokenizer *tokenizer,
                                  const char *text, size_t len, int32_t *ids,
                                  size_t capacity, size_t *n);
/* The bytes of one token (possibly part of a UTF-8 character): at most
 * `capacity` of them to `bytes`, and their number to *n (as encode). */
seqc_status seqc_tokenizer_decode(const seqc_tokenizer *tokenizer,
                                  int32_t token, char *bytes, size_t capacity,
                                  size_t *n);
/* The text as encode sees it after the tokenizer's normalizer (what the
 * decoded ids of the text spell); written as encode writes ids. */
seqc_status seqc_tokenizer_normalize(const seqc_tokenizer *tokenizer,
                                     const char *text, size_t len, char *out,
                                     size_t capacity, size_t *n);
/* For streaming decoded bytes: moves the longest prefix of whole UTF-8
 * characters of `pending` (*pending_len bytes) to `out`, which has room for
 * 3 * *pending_len bytes (bytes that can never start or continue a character
 * come out as U+FFFD), and leaves the incomplete tail at the start of
 * `pending`. Returns the bytes written to `out`. */
size_t seqc_utf8_take_whole(char *pending, size_t *pending_len, char *out);

/* Sampling. */

/* A random number generator (64-bit Mersenne twister) seeded with `seed`:
 * the same seed gives the same samples. */
seqc_status seqc_rng_create(uint64_t seed, seqc_rng **out);
void seqc_rng_free(seqc_rng *rng);
/* Samples a token from `vocab` logits: the largest at temperature <= 0
 * (drawing nothing from `rng`), else from the softmax at `temperature`
 * restricted to the `top_k` most likely (0: all) and to the smallest set of
 * them whose mass reaches `top_p`. */
seqc_status seqc_sample(const float *logits, int32_t vocab, double temperature,
                        double top_p, int32_t top_k, seqc_rng *rng,
                        int32_t *token);

/* Threads a model's parallel loops run on: the CPUs this process may use
   (its affinity mask, as `taskset` sets it), at least 1. */
int seqc_thread_count(void);

#ifdef __cplusplus
}
#endif

#endif /* SEQC_RUNTIME_H */
