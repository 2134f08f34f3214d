//===- ArtifactTest.cpp - manifest, artifact directory, option checks -----===//

#include "seqc/Artifact/Artifact.h"
#include "seqc/Import/Checkpoint.h"
#include "seqc/Import/Importer.h"
#include "seqc/Pipelines/ModelPipeline.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

using namespace seqc;

namespace {

std::string message(llvm::Error e) {
  return e ? llvm::toString(std::move(e)) : std::string();
}

TEST(Manifest, TextAndJson) {
  Manifest m;
  m.add("seqc_artifact", "2");
  m.add("model", "rwkv4");
  m.add("state_shape", "4 5 128");
  m.add("weights_id", "00ff00ff00ff00ff");
  Manifest target;
  target.add("cpu", "znver4");
  m.append(target);
  EXPECT_EQ(m.text(), "seqc_artifact 2\nmodel rwkv4\nstate_shape 4 5 128\n"
                      "weights_id 00ff00ff00ff00ff\ncpu znver4\n");
  EXPECT_EQ(m.json(), "{\n  \"seqc_artifact\": 2,\n  \"model\": \"rwkv4\",\n"
                      "  \"state_shape\": [4, 5, 128],\n"
                      "  \"weights_id\": \"00ff00ff00ff00ff\",\n"
                      "  \"cpu\": \"znver4\"\n}\n");
  EXPECT_EQ(m.get("model"), std::optional<llvm::StringRef>("rwkv4"));
  EXPECT_FALSE(m.get("vocab"));
}

TEST(Manifest, DefaultTokenizer) {
  EXPECT_EQ(defaultTokenizer(256), "bytes");
  EXPECT_EQ(defaultTokenizer(65536), "world");
  EXPECT_EQ(defaultTokenizer(50277), "neox");
  EXPECT_EQ(defaultTokenizer(50432), "neox");
  EXPECT_EQ(defaultTokenizer(32000), "none");
}

class ArtifactDir : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("seqc-artifact-test", root));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(root); }
  std::string at(llvm::StringRef name) {
    llvm::SmallString<256> p(root);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  llvm::SmallString<256> root;
};

TEST_F(ArtifactDir, RefusesForeignFilesAndFiles) {
  llvm::StringRef exe[] = {"model.so"};
  // A new path and an artifact directory are fine.
  EXPECT_EQ(message(ArtifactWriter(at("new")).check(exe)), "");
  ArtifactWriter a(at("art"));
  ASSERT_FALSE(message(a.create()).size());
  ASSERT_EQ(message(a.writeFile("model.so", "x")), "");
  ASSERT_EQ(message(a.writeFile("manifest.json", "{}")), "");
  EXPECT_EQ(message(a.check(exe)), "");
  // Anything else in it is the user's: refused.
  ASSERT_EQ(message(a.writeFile("notes.txt", "mine")), "");
  EXPECT_NE(message(a.check(exe)).find("refusing to write into it"),
            std::string::npos);
  // A file where the directory should be.
  ASSERT_EQ(message(writeFileAtomic(at("file"), "x")), "");
  EXPECT_NE(message(ArtifactWriter(at("file")).check(exe))
                .find("exists and is not a directory"),
            std::string::npos);
}

TEST_F(ArtifactDir, WeightsHeader) {
  ArtifactWriter a(at("art"));
  auto file = WeightsFile::create(a);
  ASSERT_TRUE(bool(file)) << message(file.takeError());
  // The bytes go to the file as they are made; the blob keeps their size
  // and checksums.
  WeightBlob blob;
  blob.sink = file->get();
  const uint8_t bytes[] = {1, 2, 3, 4};
  blob.append(bytes);
  EXPECT_EQ(blob.size, 4u);
  EXPECT_EQ(blob.checksum.digest(), xxh64(bytes, 4));
  EXPECT_FALSE(llvm::sys::fs::exists(a.path("weights.bin")));
  uint64_t id = weightsId(blob);
  // FNV-1a of the four bytes.
  uint64_t fnv = 1469598103934665603ull;
  for (uint8_t c : bytes)
    fnv = (fnv ^ c) * 1099511628211ull;
  EXPECT_EQ(id, fnv);
  ASSERT_EQ(message((*file)->commit(blob, id)), "");
  file->reset();
  auto buf = llvm::MemoryBuffer::getFile(a.path("weights.bin"));
  ASSERT_TRUE(bool(buf));
  llvm::StringRef data = (*buf)->getBuffer();
  ASSERT_EQ(data.size(), 4096u + 4);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)id);
  EXPECT_EQ(data.take_front(data.find('\n') + 1),
            "SEQCWTS1 0x" + std::string(hex) + " 4\n");
  EXPECT_EQ(data.substr(4096), llvm::StringRef("\1\2\3\4", 4));
  // No temporary left behind.
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(a.getDir(), ec), end;
       it != end && !ec; it.increment(ec))
    EXPECT_EQ(llvm::sys::path::filename(it->path()), "weights.bin");
}

TEST_F(ArtifactDir, WeightsFileNotCommitted) {
  // A compile that fails after the weights file was started leaves
  // nothing: not the temporary, not the directories it made.
  ArtifactWriter a(at("new/art"));
  {
    auto file = WeightsFile::create(a);
    ASSERT_TRUE(bool(file)) << message(file.takeError());
    EXPECT_TRUE(llvm::sys::fs::is_directory(a.getDir()));
    WeightBlob blob;
    blob.sink = file->get();
    blob.append(std::vector<uint8_t>(100, 7));
  }
  EXPECT_FALSE(llvm::sys::fs::exists(at("new")));
  // A directory that was there stays, with what it holds.
  ArtifactWriter b(at("kept"));
  ASSERT_EQ(message(b.create()), "");
  ASSERT_EQ(message(b.writeFile("manifest.json", "{}")), "");
  {
    ASSERT_TRUE(bool(WeightsFile::create(b)));
  }
  EXPECT_TRUE(llvm::sys::fs::exists(b.path("manifest.json")));
  std::error_code ec;
  int n = 0;
  for (llvm::sys::fs::directory_iterator it(b.getDir(), ec), end;
       it != end && !ec; it.increment(ec))
    ++n;
  EXPECT_EQ(n, 1);
}

TEST(Importer, UnknownArchitecture) {
  mlir::MLIRContext ctx;
  ImportOptions options;
  options.arch = "gpt2";
  auto m = importModel(&ctx, "model.pth", options);
  ASSERT_FALSE(bool(m));
  EXPECT_EQ(message(m.takeError()),
            "--arch=gpt2: expected one of llama, spikegpt, rwkv");
}

TEST(ModelPipeline, Validate) {
  ModelPipelineOptions o;
  EXPECT_EQ(message(o.validate()), "");
  EXPECT_TRUE(o.isEmpty());
  o.kv.bits = 2;
  EXPECT_EQ(message(o.validate()), "");
  EXPECT_FALSE(o.isEmpty());
  o.kv.valueBits = 16;
  EXPECT_EQ(message(o.validate()), "--key-bits and --value-bits: quantize "
                                   "both or neither (got 2 and 16)");
  ModelPipelineOptions r;
  r.rank = 8;
  EXPECT_NE(message(r.validate()).find("--kv-rank needs --kv-calibration"),
            std::string::npos);
  r.calibration = true;
  r.rotation.enabled = true;
  EXPECT_NE(message(r.validate()).find("cannot be combined"),
            std::string::npos);
  ModelPipelineOptions b;
  b.balance = 1.5;
  b.calibration = true;
  EXPECT_EQ(message(b.validate()), "--kv-balance must be in [0, 1], got "
                                   "1.500000");
}

} // namespace

// The weight writer's f32 -> f16 conversion (fp16 weights, q4 scales)
// against the compiler's _Float16 conversion (round to nearest even), over
// every exponent from far below the smallest subnormal half to beyond the
// largest half, with mantissas of random bits and ties; and back.
TEST(Half, RoundsToNearestEven) {
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed;
  };
  const uint32_t edges[] = {0, 0x1000, 0x2000, 0x7fffff};
  for (uint32_t exponent = 60; exponent < 160; ++exponent)
    for (int i = 0; i < 200; ++i) {
      uint32_t mantissa = i < 4 ? edges[i] : next() & 0x7fffff;
      uint32_t bits = (i & 1) << 31 | exponent << 23 | mantissa;
      float v;
      std::memcpy(&v, &bits, 4);
      _Float16 h = (_Float16)v;
      uint16_t want;
      std::memcpy(&want, &h, 2);
      ASSERT_EQ(floatToHalf(v), want) << "value " << v;
      EXPECT_EQ(halfToFloat(want), (float)h);
    }
}
