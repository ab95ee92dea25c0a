// Issue 19: hostile files give one clear error naming the file (never a crash, hang, huge
// allocation or silently wrong value). One test per input class the issue measured.
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <limits>

#include "data/idx.h"
#include "data/image_folder.h"
#include "data/transforms.h"
#include "data_fixtures.h"
#include "engine/checked.h"
#include "engine/file_io.h"
#include "engine/json_guard.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "helpers.h"
#include "train/checkpoint.h"
#include "train/epoch_log.h"
#include "train/run_config.h"

using namespace sl;
using sl::test::error_of;
using sl::test::TempDir;

namespace {
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string npy_file(const std::string& header, const std::string& payload = "") {
  std::string h = header + "\n";
  std::string out = "\x93NUMPY";
  out += '\x02';
  out += '\x00';
  for (int i = 0; i < 4; ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + payload;
}

std::string st_file(const std::string& json, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  return out + json + data;
}
}  // namespace

TEST_CASE("checked sizes: products that overflow are refused, not wrapped", "[hostile]") {
  CHECK(checked_mul(int64_t{3}, int64_t{4}, "x") == 12);
  CHECK(has(error_of([] { checked_mul(int64_t{1} << 32, int64_t{1} << 32, "file.npy"); }), "file.npy"));
  CHECK(has(error_of([] { checked_mul(int64_t{-4}, int64_t{1}, "f"); }), "negative or too large"));
  CHECK(has(error_of([] { shape_numel({4294967296, 4294967296}); }), "more elements than fit in 64 bits"));
  CHECK(has(error_of([] { checked_add(std::numeric_limits<uint64_t>::max(), uint64_t{1}, "f"); }), "too large"));
}

TEST_CASE("npy: hostile headers are refused by name without regex, overflow or a huge allocation", "[hostile][npy]") {
  auto parse = [](const std::string& bytes) { return parse_npy(bytes.data(), bytes.size(), "bad.npy"); };
  // shape_numel overflowed on 4294967296 * 4294967296 (engine/shape.cpp).
  std::string m = error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")); });
  CHECK(has(m, "bad.npy"));
  CHECK(has(m, "more than 2^63"));
  // (-4,) read as (4,).
  m = error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", std::string(16, '\0'))); });
  CHECK(has(m, "bad.npy"));
  CHECK(has(m, "negative dimension"));
  // An empty payload passed a null pointer to memcpy.
  Tensor t = parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }"));
  CHECK(t.shape() == Shape{0, 3});
  // A long header overflowed the stack inside std::regex.
  m = error_of([&] { parse(npy_file("{'descr' " + std::string(200000, ' ') + ":")); });
  CHECK(has(m, "bad.npy: invalid .npy header"));
  std::string dims;
  for (int i = 0; i < 100; ++i) dims += "1, ";
  CHECK(has(error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }", "abcd")); }),
            "more than 64 dimensions"));
  CHECK(has(error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")); }),
            "dimension too large"));
  CHECK(has(error_of([&] { parse(npy_file("{'descr': '<f4', 'shape': (2,), }", std::string(8, '\0'))); }),
            "no fortran_order"));
  CHECK(has(error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }")); }),
            "expected True or False"));
  CHECK(has(error_of([&] { parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}")); }),
            "unknown key 'x'"));
  // Still reads what numpy writes, including the double-quoted and Python 2 spellings.
  Tensor u = parse(npy_file("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (1L, 2L)}", std::string(8, '\1')));
  CHECK(u.shape() == Shape{1, 2});
}

TEST_CASE("safetensors: deep JSON, nested offsets and empty tensors sharing an offset", "[hostile][safetensors]") {
  auto parse = [](const std::string& bytes) { return parse_safetensors(bytes.data(), bytes.size(), "bad.safetensors"); };
  std::string deep = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + std::string(50000, '[') +
                     std::string(50000, ']') + "}}";
  std::string m = error_of([&] { parse(st_file(deep)); });
  CHECK(has(m, "bad.safetensors: the header: JSON nested deeper than 8 levels"));
  // An untrusted structure is described, never serialized back (the serializer recurses).
  m = error_of([&] { parse(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[[[0]],4]}})", "abcd")); });
  CHECK(has(m, "invalid data_offsets (an array of 2 elements)"));
  // Empty tensors at the offset of a non-empty one load in any order (inspect indexed an empty
  // vector after such a file).
  for (const char* json : {R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                           R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})"}) {
    SafetensorsContent c = parse(st_file(json, std::string(4, '\0')));
    REQUIRE(c.tensors.size() == 2);
    CHECK(sl::test::tensor_of(c, "e").numel() == 0);
  }
  // A zero dimension next to a huge one: no negative int64 dimension slips through.
  CHECK(has(error_of([&] { parse(st_file(R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})")); }),
            "implausible dimension"));
  CHECK(has(error_of([&] { parse(st_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})")); }),
            "too large"));
  CHECK(has(error_of([&] { parse(st_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", "abcd")); }),
            "bad.safetensors"));
}

TEST_CASE("run config: deep nesting and out-of-range numbers are refused naming the file", "[hostile][config]") {
  std::string deep = "{\"dataset\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(error_of([&] { parse_config_json(deep, "deep.json"); }) == "deep.json: JSON nested deeper than 4 levels");
  // "threads": 2^53 was read as 0 (all cores).
  std::string m = error_of([] { parse_config_json(R"({"threads": 9007199254740992})", "big.json"); });
  CHECK(has(m, "big.json: key 'threads' must be an integer (32-bit), got 9007199254740992"));
  CHECK(has(error_of([] { parse_config_json(R"({"seed": -1})", "c.json"); }), "key 'seed'"));
  CHECK(has(error_of([] { parse_config_json(R"({"subset": 18446744073709551615})", "c.json"); }), "an integer (64-bit)"));
  CHECK(has(error_of([] { parse_config_json(R"({"lr_milestones": [1, 4294967296000000000000]})", "c.json"); }),
            "key 'lr_milestones'"));
  // A wrong-typed structure is described by kind and size, not echoed.
  CHECK(has(error_of([] { parse_config_json(R"({"arch": [[1, 2], [3]]})", "c.json"); }), "got an array of 2 elements"));
  RunConfig c;
  apply_json(c, parse_config_json(R"({"threads": 3, "seed": 18446744073709551615, "lr_milestones": [2, 5]})", "ok.json"), "ok.json");
  CHECK(c.threads == 3);
  CHECK(c.seed == std::numeric_limits<uint64_t>::max());
  c.threads = 2147483647;
  CHECK(has(error_of([&] { validate(c); }), "threads (--threads) must be in [0, 1024], got 2147483647"));
  c.threads = 0;
  c.workers = 1025;
  CHECK(has(error_of([&] { validate(c); }), "workers (--workers) must be in [0, 1024]"));
  CHECK(describe_json(nlohmann::json(std::string(500, 'x'))).size() < 80);
}

TEST_CASE("images: dimensions are checked before decoding, every transform output is bounded", "[hostile][data]") {
  TempDir tmp("hostile_img");
  // A 1 x 40000 greyscale PNG (a few hundred bytes) made Resize(256) build a 10240000 x 256 image.
  data::Image thin(1, 40000, 1);
  std::string png = tmp.file("thin.png");
  test::save_image(png, thin);
  std::string m = error_of([&] { data::read_image(png); });
  CHECK(has(m, png));
  CHECK(has(m, "aspect ratio above 100:1"));
  // The same bound holds inside the transforms, for images made by other means.
  data::SampleRng rng(1, 0, 0);
  data::Image strip(1, 5000, 3);
  CHECK(has(error_of([&] { data::resize(256)->apply(strip, rng); }), "Resize(256) of a 1x5000 image"));
  CHECK(has(error_of([] { data::Image(70000, 2, 3); }), "outside the limits"));
  CHECK(has(error_of([] { data::Image(50000, 50000, 3); }), "outside the limits"));
  data::Image ok = data::resize(256)->apply(data::Image(10, 900, 3), rng);  // 90:1 is allowed
  CHECK(ok.height == 256);
  CHECK(ok.width == 23040);
}

TEST_CASE("image folder: a FIFO named *.png is skipped, and reading one fails at once", "[hostile][data][folder]") {
  TempDir tmp("hostile_fifo");
  test::save_image(tmp.file("cat/a.png"), test::pattern_image(8, 8, 1));
  std::string fifo = tmp.file("cat/blocked.png");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  data::ImageFolderDataset ds(tmp.str());
  CHECK(ds.size() == 1);  // the loader used to block in open() forever
  std::string m = error_of([&] { data::read_image(fifo); });
  CHECK(m == "cannot read '" + fifo + "': not a regular file");
  CHECK(has(error_of([&] { read_file(tmp.str()); }), "not a regular file"));
}

TEST_CASE("IDX: a gzip stream cut inside its trailer and impossible dimensions are errors", "[hostile][data][idx]") {
  TempDir tmp("hostile_idx");
  std::string gz = test::gzip(test::idx_bytes({2, 3, 3}, std::vector<uint8_t>(18, 7)));
  std::string cut = tmp.file("cut-idx3-ubyte.gz");
  test::write_bytes(cut, gz.substr(0, gz.size() - 8));
  std::string m = error_of([&] { data::read_idx_u8(cut, 3, "images"); });
  CHECK(has(m, cut + ": truncated file"));
  std::string huge = tmp.file("huge-idx3-ubyte");
  test::write_bytes(huge, test::idx_bytes({65536, 65536, 65536}, std::vector<uint8_t>(8, 0)));
  CHECK(has(error_of([&] { data::read_idx_u8(huge, 3, "images"); }), huge + ": implausible IDX dimensions"));
  // A product that wraps to 0 in 64 bits is not an empty file.
  test::write_bytes(huge, test::idx_bytes({65536, 8388608, 33554432}, {}));
  CHECK(has(error_of([&] { data::read_idx_u8(huge, 3, "images"); }), huge + ": implausible IDX dimensions"));
}

TEST_CASE("metrics.jsonl: rows the checkpoint does not cover are dropped before a resume", "[hostile][train]") {
  TempDir tmp("hostile_metrics");
  std::string path = tmp.file("metrics.jsonl");
  test::write_bytes(path, "{\"epoch\":0,\"x\":1}\n{\"epoch\":1,\"x\":2}\n{\"epoch\":1,\"x\":2}\n{\"epo");
  CHECK(keep_epochs_before(path, 1) == 3);  // the interrupted epoch's row (twice) and a torn line
  CHECK(test::read_bytes(path) == "{\"epoch\":0,\"x\":1}\n");
  CHECK(keep_epochs_before(path, 1) == 0);
  CHECK(keep_epochs_before(tmp.file("missing.jsonl"), 0) == 0);
  CHECK(!std::filesystem::exists(tmp.file("missing.jsonl")));
}

TEST_CASE("atomic writes: temp files of killed writers are removed, live writers' are kept", "[hostile][faults]") {
  TempDir tmp("hostile_tmp");
  std::string path = tmp.file("last.safetensors");
  // A pid that is not running: a child that has exited and been reaped.
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::string stale = path + ".tmp." + std::to_string(dead);
  std::string live = path + ".tmp." + std::to_string(::getppid());
  std::string other = tmp.file("best.safetensors.tmp." + std::to_string(dead));
  for (const std::string& f : {stale, live, other}) test::write_bytes(f, "partial");
  write_file_atomic(path, std::string("complete"));
  CHECK(!std::filesystem::exists(stale));
  CHECK(std::filesystem::exists(live));   // its writer may still be running
  CHECK(std::filesystem::exists(other));  // another file's temp: removed when that file is saved
  CHECK(test::read_bytes(path) == "complete");
}

TEST_CASE("checkpoint writes: kill -9 at any moment leaves the previous checkpoint loadable", "[hostile][faults]") {
  TempDir tmp("hostile_kill");
  std::string path = tmp.file("last.safetensors");
  auto checkpoint = [](int64_t step) {
    std::vector<float> w(200000, static_cast<float>(step));  // ~800 KB: a kill lands mid-write too
    return std::vector<std::pair<std::string, Tensor>>{{"w", from_vector(w, {200000})},
                                                      {"step", from_vector<int64_t>({step}, {1})}};
  };
  save_safetensors(path, checkpoint(0));
  int64_t latest = 0;
  for (int trial = 0; trial < 20; ++trial) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (int64_t step = 1;; ++step) save_safetensors(path, checkpoint(step));
    }
    ::usleep(static_cast<useconds_t>(3000 + 2500 * trial));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    SafetensorsContent c = load_safetensors(path);
    std::vector<int64_t> step = sl::test::tensor_of(c, "step").to_vector<int64_t>();
    std::vector<float> w = sl::test::tensor_of(c, "w").to_vector<float>();
    INFO("trial " << trial << " step " << step[0]);
    latest = std::max(latest, step[0]);
    CHECK(w.front() == static_cast<float>(step[0]));
    CHECK(w.back() == static_cast<float>(step[0]));
  }
  CHECK(latest > 0);  // the writers did replace the file before being killed
  // The killed writers' temp files go with the next save.
  save_safetensors(path, checkpoint(0));
  int temps = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.str())) temps += has(e.path().string(), ".tmp.");
  CHECK(temps == 0);
}

TEST_CASE("checkpoints without a stored run config load as an empty config object", "[hostile][safetensors]") {
  TempDir tmp("hostile_noconfig");
  std::string path = tmp.file("w.safetensors");
  save_safetensors(path, {{"fc.weight", from_vector<float>({1, 2}, {1, 2})}});
  Checkpoint c = load_checkpoint(path);
  CHECK(c.config.is_object());  // inspect/eval called config.value() on null: "unexpected error"
  CHECK(c.config.empty());
}
