//===- Common.cpp - what seqc-run's commands share ------------------------===//

#include "Common.h"

#include "seqc/Support/ParseNumber.h"
#include "seqc/Support/ReadFile.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace seqcrun;

void seqcrun::die(const std::string &msg) {
  std::fprintf(stderr, "seqc-run: error: %s\n", msg.c_str());
  std::exit(1);
}

void seqcrun::check(seqc_status status) {
  if (!status)
    return;
  std::string msg = seqc_status_message(status);
  seqc_status_free(status);
  die(msg);
}

Args::Args(int argc, char **argv, const std::vector<std::string> &flags) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 1 && a[0] == '-') {
      if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
        options[a] = "1";
        continue;
      }
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        options[a.substr(0, eq)] = a.substr(eq + 1);
        continue;
      }
      if (i + 1 >= argc)
        die("option " + a + " needs a value");
      options[a] = argv[++i];
    } else {
      positional.push_back(a);
    }
  }
}

bool Args::has(const std::string &k) {
  used[k] = true;
  return options.count(k);
}

std::string Args::str(const std::string &k, const std::string &def) {
  used[k] = true;
  auto it = options.find(k);
  return it == options.end() ? def : it->second;
}

int64_t Args::integer(const std::string &k, int64_t def, int64_t lo,
                      int64_t hi) {
  if (!has(k))
    return def;
  int64_t v;
  std::string why;
  if (!seqc::parseInteger(options[k], lo, hi, v, why))
    die(k + ": " + why);
  return v;
}

double Args::real(const std::string &k, double def, double lo, double hi) {
  if (!has(k))
    return def;
  double v;
  std::string why;
  if (!seqc::parseReal(options[k], lo, hi, v, why))
    die(k + ": " + why);
  return v;
}

std::vector<int64_t> Args::integers(const std::string &k,
                                    const std::string &def, int64_t lo,
                                    int64_t hi) {
  std::vector<int64_t> v;
  std::string why;
  if (!seqc::parseIntegerList(str(k, def), lo, hi, 64, v, why))
    die(k + ": " + why);
  return v;
}

void Args::finish() {
  for (const auto &kv : options)
    if (!used[kv.first])
      die("unknown option " + kv.first + "\n" + kUsage);
}

std::string seqcrun::readTextFile(const std::string &path) {
  std::string text, why;
  if (!seqc::readRegularFile(path, text, why))
    die(why);
  return text;
}

void seqcrun::checkOutputPath(const std::string &path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode) ||
      S_ISCHR(st.st_mode))
    return;
  die(path + ": " +
      (S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file") +
      "; refusing to write there");
}

void seqcrun::writeOutputFile(const std::string &path,
                              const std::string &data) {
  checkOutputPath(path);
  struct stat st;
  bool exists = lstat(path.c_str(), &st) == 0;
  if (exists && S_ISCHR(st.st_mode)) { // /dev/null, /dev/stdout
    std::FILE *f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size() ||
        std::fclose(f) != 0)
      die(path + ": cannot write");
    return;
  }
  // An exclusive temporary next to it, renamed over it when complete.
  std::string tmp = path + ".seqc-tmp-XXXXXX";
  int fd = mkstemp(&tmp[0]);
  if (fd < 0)
    die(path + ": cannot write: " + std::strerror(errno));
  size_t at = 0;
  while (at < data.size()) {
    ssize_t n = write(fd, data.data() + at, data.size() - at);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    at += (size_t)n;
  }
  int err = at == data.size() ? 0 : errno;
  if (close(fd) != 0 && !err)
    err = errno;
  if (err || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(err ? err : errno);
    unlink(tmp.c_str());
    die(path + ": cannot write: " + why);
  }
}

std::vector<int32_t> seqcrun::parseTokens(const std::string &list,
                                          const std::string &flag) {
  std::vector<int64_t> v;
  std::string why;
  if (list.empty())
    die(flag + ": no token ids given");
  // Negative ids pass here: the runtime names their position.
  if (!seqc::parseIntegerList(list, INT32_MIN, INT32_MAX, SIZE_MAX, v, why))
    die(flag + ": " + why);
  return std::vector<int32_t>(v.begin(), v.end());
}

double seqcrun::seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<int32_t> Tokenizer::encode(const std::string &text) const {
  std::vector<int32_t> ids(text.size() + 16);
  size_t n = 0;
  check(seqc_tokenizer_encode(tok, text.data(), text.size(), ids.data(),
                              ids.size(), &n));
  if (n > ids.size()) {
    ids.resize(n);
    check(seqc_tokenizer_encode(tok, text.data(), text.size(), ids.data(),
                                ids.size(), &n));
  }
  ids.resize(n);
  return ids;
}

std::string Tokenizer::decode(int32_t token) const {
  std::string bytes(64, '\0');
  size_t n = 0;
  check(seqc_tokenizer_decode(tok, token, &bytes[0], bytes.size(), &n));
  if (n > bytes.size()) {
    bytes.resize(n);
    check(seqc_tokenizer_decode(tok, token, &bytes[0], bytes.size(), &n));
  }
  bytes.resize(n);
  return bytes;
}

std::string Tokenizer::normalize(const std::string &text) const {
  std::string out(text.size() + 16, '\0');
  size_t n = 0;
  check(seqc_tokenizer_normalize(tok, text.data(), text.size(), &out[0],
                                 out.size(), &n));
  if (n > out.size()) {
    out.resize(n);
    check(seqc_tokenizer_normalize(tok, text.data(), text.size(), &out[0],
                                   out.size(), &n));
  }
  out.resize(n);
  return out;
}

Loaded::~Loaded() {
  tok.reset();
  seqc_model_free(model);
}

Tokenizer &Loaded::tokenizer() {
  if (tok)
    return *tok;
  seqc_tokenizer *t = nullptr;
  check(seqc_tokenizer_create_for_model(model, vocabPath.c_str(), &t));
  tok = std::make_unique<Tokenizer>(t);
  return *tok;
}

int64_t Loaded::manifestInteger(const char *key, int64_t def, int64_t lo,
                                int64_t hi) const {
  const char *v = seqc_model_get(model, key);
  if (!v)
    return def;
  int64_t n;
  std::string why;
  if (!seqc::parseInteger(v, lo, hi, n, why))
    die(std::string("the manifest's ") + key + ": " + why);
  return n;
}

void seqcrun::load(Loaded &l, const std::string &dir, Args &args) {
  seqc_load_options options = {SEQC_VERIFY_AUTO, SEQC_PAGES_FILE};
  std::string pages = args.str("--weight-pages", "file");
  if (pages == "huge-copy")
    options.weight_pages = SEQC_PAGES_HUGE_COPY;
  else if (pages != "file")
    die("--weight-pages=" + pages + ": expected file or huge-copy");
  bool verify = args.has("--verify"), noVerify = args.has("--no-verify");
  if (verify && noVerify)
    die("give --verify or --no-verify, not both");
  if (verify)
    options.verify_weights = SEQC_VERIFY_ALWAYS;
  if (noVerify)
    options.verify_weights = SEQC_VERIFY_NEVER;
  check(seqc_model_load_with(dir.c_str(), &options, &l.model));
  l.vocabPath = args.str("--vocab", "");
}

std::string seqcrun::takeWholeUtf8(std::string &pending) {
  std::string out(3 * pending.size(), '\0');
  size_t left = pending.size();
  out.resize(seqc_utf8_take_whole(&pending[0], &left, &out[0]));
  pending.resize(left);
  return out;
}

std::vector<int32_t> seqcrun::inputTokens(Loaded &l, Args &args,
                                          const char *command) {
  if (args.has("--tokens"))
    return parseTokens(args.str("--tokens", ""), "--tokens");
  if (args.has("-p"))
    return l.tokenizer().encode(args.str("-p", ""));
  die(std::string(command) + ": give --tokens or -p");
}
