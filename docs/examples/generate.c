/* generate.c - text generation with seqc's C API alone.
 *
 *   cc -std=c99 -I runtime/include generate.c -L build/lib -lseqcrt \
 *      -Wl,-rpath,build/lib -o generate
 *   ./generate ARTIFACT PROMPT TOKENS TEMPERATURE TOP_P SEED
 *
 * Loads an artifact written by `seqc compile`, tokenizes the prompt with the
 * tokenizer its manifest names, feeds it, then samples and prints TOKENS
 * tokens: what `seqc-run generate` does, so the two print the same text for
 * the same seed. */
#include "seqc/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(seqc_status status) {
  if (!status)
    return 0;
  fprintf(stderr, "generate: %s\n", seqc_status_message(status));
  seqc_status_free(status);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: generate ARTIFACT PROMPT TOKENS TEMPERATURE "
                    "TOP_P SEED\n");
    return 2;
  }
  const char *prompt = argv[2];
  long n = atol(argv[3]);
  double temperature = atof(argv[4]), top_p = atof(argv[5]);
  uint64_t seed = strtoull(argv[6], NULL, 10);

  seqc_model *model;
  check(seqc_model_load(argv[1], &model));
  seqc_tokenizer *tokenizer;
  check(seqc_tokenizer_create_for_model(model, NULL, &tokenizer));

  /* Ask for the number of ids first, then encode into a buffer that fits. */
  size_t count;
  check(seqc_tokenizer_encode(tokenizer, prompt, strlen(prompt), NULL, 0,
                              &count));
  int32_t *ids = malloc(count * sizeof *ids);
  check(seqc_tokenizer_encode(tokenizer, prompt, strlen(prompt), ids, count,
                              &count));

  seqc_session *session;
  check(seqc_session_create(model, &session));
  check(seqc_session_prefill(session, ids, count));
  fputs(prompt, stdout);

  seqc_rng *rng;
  check(seqc_rng_create(seed, &rng));
  int32_t vocab = seqc_model_vocab(model);
  if (seqc_tokenizer_size(tokenizer) < vocab)
    vocab = seqc_tokenizer_size(tokenizer);
  /* Decoded bytes wait in `pending` until they make whole UTF-8 characters. */
  char pending[256], out[3 * sizeof pending];
  size_t pending_len = 0;
  for (long i = 0; i < n; ++i) {
    int32_t token;
    check(seqc_sample(seqc_session_logits(session), vocab, temperature, top_p,
                      0, rng, &token));
    size_t len;
    check(seqc_tokenizer_decode(tokenizer, token, pending + pending_len,
                                sizeof pending - pending_len, &len));
    pending_len += len;
    fwrite(out, 1, seqc_utf8_take_whole(pending, &pending_len, out), stdout);
    if (i + 1 < n)
      check(seqc_session_step(session, token));
  }
  fwrite(out, 1, seqc_utf8_take_whole(pending, &pending_len, out), stdout);
  fputs("\n", stdout);

  seqc_rng_free(rng);
  seqc_session_free(session);
  free(ids);
  seqc_tokenizer_free(tokenizer);
  seqc_model_free(model);
  return 0;
}
