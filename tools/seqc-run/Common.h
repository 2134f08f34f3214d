//===- Common.h - what seqc-run's commands share ----------------*- C++ -*-===//
//
// Errors (die: a message and exit 1), the options of a command line (every
// number read strictly and range-checked by seqc/Support/ParseNumber.h),
// files named by the user (regular files only, bounded), the tokenizer and
// model wrappers over the C API.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_TOOLS_SEQC_RUN_COMMON_H
#define SEQC_TOOLS_SEQC_RUN_COMMON_H

#include "seqc/runtime.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace seqcrun {

extern const char *kUsage;

[[noreturn]] void die(const std::string &msg);
/// Dies with the status's message when it is a failure.
void check(seqc_status status);

/// Options: "--name value" pairs and positionals.
class Args {
public:
  Args(int argc, char **argv, const std::vector<std::string> &flags);
  std::vector<std::string> positional;

  bool has(const std::string &k);
  std::string str(const std::string &k, const std::string &def);
  /// An integer option in [lo, hi] (decimal, the whole text).
  int64_t integer(const std::string &k, int64_t def, int64_t lo, int64_t hi);
  /// A finite real option in [lo, hi].
  double real(const std::string &k, double def, double lo, double hi);
  /// A comma-separated list of integers in [lo, hi].
  std::vector<int64_t> integers(const std::string &k, const std::string &def,
                                int64_t lo, int64_t hi);
  /// Rejects options no command read.
  void finish();

private:
  std::map<std::string, std::string> options;
  std::map<std::string, bool> used;
};

/// The whole of a regular file named by the user (dies otherwise).
std::string readTextFile(const std::string &path);
/// Dies unless `path` is absent, a regular file or a character device
/// (checked before long work; writeOutputFile checks again).
void checkOutputPath(const std::string &path);
/// Writes `data` to `path` through a temporary and a rename; refuses a
/// directory or any other non-regular file but a character device.
void writeOutputFile(const std::string &path, const std::string &data);

/// A comma-separated list of token ids (at least one), given by `flag`.
std::vector<int32_t> parseTokens(const std::string &list,
                                 const std::string &flag);

double seconds();

/// A tokenizer of the C API.
class Tokenizer {
public:
  explicit Tokenizer(seqc_tokenizer *tok) : tok(tok) {}
  ~Tokenizer() { seqc_tokenizer_free(tok); }
  Tokenizer(const Tokenizer &) = delete;
  Tokenizer &operator=(const Tokenizer &) = delete;

  int32_t size() const { return seqc_tokenizer_size(tok); }
  std::vector<int32_t> encode(const std::string &text) const;
  /// The bytes of one token.
  std::string decode(int32_t token) const;
  std::string normalize(const std::string &text) const;

private:
  seqc_tokenizer *tok;
};

/// A loaded model and, on first use, its tokenizer.
struct Loaded {
  seqc_model *model = nullptr;
  std::string vocabPath;
  std::unique_ptr<Tokenizer> tok;
  ~Loaded();
  Tokenizer &tokenizer();
  /// A manifest entry that must be a number in [lo, hi], or `def` when
  /// absent.
  int64_t manifestInteger(const char *key, int64_t def, int64_t lo,
                          int64_t hi) const;
};

/// Loads the artifact `dir` (--verify / --no-verify choose the weights'
/// check) and reads --vocab.
void load(Loaded &l, const std::string &dir, Args &args);

/// The input of `command`: --tokens LIST, or -p TEXT through the model's
/// tokenizer; neither is an error.
std::vector<int32_t> inputTokens(Loaded &l, Args &args, const char *command);

/// The longest prefix of whole UTF-8 characters of `pending` (taken out of
/// it; see seqc_utf8_take_whole).
std::string takeWholeUtf8(std::string &pending);

int cmdBench(Args &args);
int cmdCalibrate(Args &args);
int cmdReport(Args &args);

} // namespace seqcrun

#endif // SEQC_TOOLS_SEQC_RUN_COMMON_H
