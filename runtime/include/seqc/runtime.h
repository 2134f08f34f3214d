/*===- seqc/runtime.h - load and run seqc artifacts ----------------*- C -*-===
 *
 * The seqc runtime loads an artifact written by `seqc compile` (a directory
 * with model.so, weights.bin and manifest.json), maps its weights read-only
 * (they are never copied) and runs sessions: prefill a prompt, step one token
 * at a time, read the logits, save / restore / fork the recurrent state.
 *
 * Every fallible call returns a seqc_status: NULL on success, otherwise an
 * object holding a message, which the caller frees with seqc_status_free.
 * The runtime links neither MLIR nor LLVM.
 *
 *===----------------------------------------------------------------------===*/

#ifndef SEQC_RUNTIME_H
#define SEQC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct seqc_status_t *seqc_status; /* NULL: success */
typedef struct seqc_model seqc_model;
typedef struct seqc_session seqc_session;

/* The message of a failed call ("" for NULL). */
const char *seqc_status_message(seqc_status status);
void seqc_status_free(seqc_status status);

/* Loads the artifact in `dir`. */
seqc_status seqc_model_load(const char *dir, seqc_model **out);
void seqc_model_free(seqc_model *model);
/* A manifest entry ("model", "vocab", "tokenizer", "description", ...), or
 * NULL when the manifest has no such key. */
const char *seqc_model_get(const seqc_model *model, const char *key);
int32_t seqc_model_vocab(const seqc_model *model);
/* Bytes of mapped weights. */
size_t seqc_model_weight_bytes(const seqc_model *model);

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
 * the session). */
const void *seqc_session_state_data(const seqc_session *session, size_t *bytes);

/* Size of a saved state (state and logits, with a header naming the model). */
size_t seqc_session_state_size(const seqc_session *session);
seqc_status seqc_session_save(const seqc_session *session, void *buffer,
                              size_t size);
seqc_status seqc_session_restore(seqc_session *session, const void *buffer,
                                 size_t size);
/* A new session with a copy of this one's state and logits. */
seqc_status seqc_session_fork(const seqc_session *session, seqc_session **out);

/* Threads a model's parallel loops run on: the CPUs this process may use
   (its affinity mask, as `taskset` sets it), at least 1. */
int seqc_thread_count(void);

#ifdef __cplusplus
}
#endif

#endif /* SEQC_RUNTIME_H */
