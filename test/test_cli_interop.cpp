// Checkpoints from and for the PyTorch world (issue 16): state_dicts without shiftlab metadata
// (architecture from --arch or inferred, clear key errors), image-folder runs, initial checkpoints
// (--epochs 0), every subcommand on every kind of checkpoint shiftlab writes, and the exact
// messages of the CLI polish (did you mean, defaults in help, per-subcommand flags, eval's header,
// resume of a finished run, inspect's 2^e levels and folding, --wd groups).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "data_fixtures.h"
#include "engine/safetensors.h"
#include "helpers.h"
#include "layers/models/registry.h"
#include "train/setup.h"

using namespace sl;
using sl::test::run_cli;
using sl::test::TempDir;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const std::string kQuick = " --subset 300 --test-subset 100 --batch-size 50 --print-freq 1000 --no-stats";

// A PyTorch-style state_dict file: the tensors only, no shiftlab metadata.
void save_state_dict(const std::string& path, const Module& model, const std::string& drop = "") {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& kv : model.state_dict())
    if (kv.first != drop) tensors.push_back(kv);
  save_safetensors(path, tensors, {{"format", "pt"}});
}

// DIR/train and DIR/val with `per_class` random PPM images in each of two class folders.
void image_folder(const std::string& dir, int per_class) {
  uint32_t state = 12345;
  for (const char* split : {"train", "val"})
    for (const char* cls : {"cat", "dog"})
      for (int i = 0; i < per_class; ++i) {
        std::string pixels(40 * 48 * 3, '\0');
        for (char& p : pixels) p = static_cast<char>((state = state * 1664525u + 1013904223u) >> 24);
        sl::test::write_bytes(fmt::format("{}/{}/{}/{}.ppm", dir, split, cls, i), "P6 48 40 255\n" + pixels);
      }
}

nlohmann::json stored_config(const std::string& path) {
  return nlohmann::json::parse(load_safetensors(path).metadata.at("config"));
}

}  // namespace

TEST_CASE("interop: a state_dict without shiftlab metadata loads for eval, inspect, convert and train", "[cli][interop]") {
  TempDir tmp("foreign");
  std::string sd = tmp.file("sd.safetensors");
  save_state_dict(sd, *make_model("mnist-conv", model_info("mnist-conv").natural));
  const std::string inferred = sd + ": no shiftlab metadata (a PyTorch state_dict); its tensors fit --arch mnist-conv (10 classes)";

  auto e = run_cli("eval --weights " + sd + " --test-subset 100");
  INFO(e.output);
  CHECK(e.exit_code == 0);
  CHECK(has(e.output, inferred));
  CHECK(has(e.output, "eval " + sd + " (mnist-conv, quantization none) on Fashion-MNIST test"));
  auto i = run_cli("inspect " + sd);
  CHECK(i.exit_code == 0);
  CHECK(has(i.output, inferred));
  auto c = run_cli("convert --weights " + sd + " --quant deepshift-q -o " + tmp.file("q.safetensors"));
  CHECK(c.exit_code == 0);
  CHECK(stored_config(tmp.file("q.safetensors"))["arch"] == "mnist-conv");
  auto t = run_cli("train --weights " + sd + " --epochs 0 --out " + tmp.file("run"));
  INFO(t.output);
  CHECK(t.exit_code == 0);
  CHECK(has(t.output, inferred));

  // --arch chooses; a wrong one names every key that does not fit.
  auto a = run_cli("eval --weights " + sd + " --arch mnist-conv --test-subset 10");
  CHECK(a.exit_code == 0);
  CHECK(has(a.output, sd + ": no shiftlab metadata (a PyTorch state_dict); loaded as --arch mnist-conv (10 classes)"));
  auto w = run_cli("eval --weights " + sd + " --arch mnist-fc --test-subset 10");
  CHECK(w.exit_code == 1);
  CHECK(has(w.output, "shiftlab: error: " + sd + ": the tensors do not fit the model: missing keys (2): fc3.weight, "
                      "fc3.bias; unexpected keys (4): conv1.bias, conv1.weight, conv2.bias, conv2.weight; shape "
                      "mismatches (4): fc1.weight (file [500, 800], model [512, 784]), fc1.bias (file [500], model "
                      "[512]), fc2.weight (file [10, 500], model [512, 512]), fc2.bias (file [10], model [512])\n"));

  // Fitting no zoo model: the closest one and what differs.
  std::string partial = tmp.file("partial.safetensors");
  save_state_dict(partial, *make_model("mnist-conv", model_info("mnist-conv").natural), "fc2.bias");
  auto p = run_cli("inspect " + partial);
  CHECK(p.exit_code == 1);
  CHECK(has(p.output, partial + ": no shiftlab metadata (a PyTorch state_dict?), and its tensors fit no shiftlab model; "
                                "give --arch (docs/models.md). Closest, mnist-conv: missing keys (1): fc2.bias"));
}

TEST_CASE("interop: a null __metadata__ reads as none, as in the reference reader", "[interop][safetensors]") {
  std::string header = R"({"__metadata__":null,"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  header += std::string((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header + std::string(4, '\0');
  SafetensorsContent c = parse_safetensors(bytes.data(), bytes.size(), "null.safetensors");
  CHECK(c.metadata.empty());
  REQUIRE(c.find("w") != nullptr);
}

TEST_CASE("interop: an image-folder run's checkpoints work with inspect and convert, old ones too", "[cli][interop]") {
  TempDir tmp("folder");
  image_folder(tmp.file("images"), 3);
  std::string run = tmp.file("run");
  // The PyTorch example's form: the folder as a positional argument.
  auto t = run_cli("train -a imagenet-resnet18 --image-size 32 --epochs 1 --batch-size 3 --test-batch-size 3 --no-stats "
                   "--out " + run + " " + tmp.file("images"));
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  CHECK(stored_config(run + "/best.safetensors")["num_classes"] == 2);
  auto i = run_cli("inspect " + run + "/best.safetensors");
  INFO(i.output);
  CHECK(i.exit_code == 0);
  CHECK(has(i.output, run + "/best.safetensors: imagenet-resnet18 on imagefolder, quantization: none (FP32)"));
  auto c = run_cli("convert --weights " + run + "/best.safetensors --quant deepshift-q -o " + tmp.file("q.safetensors"));
  CHECK(c.exit_code == 0);

  // A checkpoint written before num_classes was stored: the classifier's rows say it.
  SafetensorsContent old = load_safetensors(run + "/best.safetensors");
  nlohmann::json config = nlohmann::json::parse(old.metadata.at("config"));
  config.erase("num_classes");
  config.erase("image_size");
  old.metadata["config"] = config.dump();
  save_safetensors(tmp.file("old.safetensors"), old.tensors, old.metadata);
  auto o = run_cli("inspect " + tmp.file("old.safetensors"));
  INFO(o.output);
  CHECK(o.exit_code == 0);
}

TEST_CASE("interop: an initial checkpoint from --epochs 0 and hints for ImageNet models on small images", "[cli][interop]") {
  TempDir tmp("initial");
  std::string run = tmp.file("r18");
  auto t = run_cli("train -a imagenet-resnet18 --num-classes 1000 --epochs 0 --out " + run);
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  CHECK(has(t.output, "--epochs 0: wrote the initial model to " + run + "/last.safetensors"));
  SafetensorsContent ck = load_safetensors(run + "/last.safetensors");
  CHECK(sl::test::tensor_of(ck, "fc.weight").shape() == Shape{1000, 512});
  CHECK(nlohmann::json::parse(ck.metadata.at("config"))["dataset"] == "imagefolder");
  // Resuming it (or any finished run) has nothing to do.
  auto r = run_cli("train --resume " + run + "/last.safetensors");
  CHECK(r.exit_code == 0);
  CHECK(has(r.output, "nothing to do: " + run + "/last.safetensors has finished epoch 0 of --epochs 0 (a larger --epochs "
                      "trains on)"));

  auto small = run_cli("train -a imagenet-resnet18 --dataset fashion-mnist --epochs 0 --out " + tmp.file("x"));
  CHECK(small.exit_code == 1);
  CHECK(has(small.output, "image_size 28 is too small") );
  CHECK(has(small.output, "(dataset fashion-mnist gives 28x28 images; an ImageNet model takes --dataset imagefolder --data "
                          "DIR, or --dataset imagefolder --num-classes N --epochs 0 for an initial checkpoint)"));
  auto classes = run_cli("train -a imagenet-resnet18 --epochs 0 --out " + tmp.file("y"));
  CHECK(classes.exit_code == 1);
  CHECK(has(classes.output, "dataset imagefolder: the number of classes is not known without its folder; give "
                            "--num-classes N (or --data DIR)"));
  auto hint = run_cli("train -a resnet18 --dataset imagefolder --num-classes 10 --epochs 0 --out " + tmp.file("z"));
  CHECK(hint.exit_code == 1);
  CHECK(has(hint.output, "image_size 224 gives a 28x28 final feature map"));
  CHECK(has(hint.output, "(resnet18 is DeepShift's CIFAR ResNet-18; for ImageNet-sized inputs use -a imagenet-resnet18, "
                         "torchvision's layout)\n"));
}

TEST_CASE("interop: the PyTorch example's --start-epoch and --pretrained", "[cli][interop]") {
  TempDir tmp("start");
  std::string run = tmp.file("run");
  auto t = run_cli("train --epochs 2 --start-epoch 1 --out " + run + kQuick);
  INFO(t.output);
  REQUIRE(t.exit_code == 0);
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["epoch"] == 1);
  CHECK(sl::test::tensor_of(load_safetensors(run + "/last.safetensors"), "trainer.epoch").item() == 2);
  auto p = run_cli("train --pretrained " + run + "/last.safetensors --epochs 0 --out " + tmp.file("p"));
  CHECK(p.exit_code == 0);
  CHECK(stored_config(tmp.file("p/last.safetensors"))["weights"] == run + "/last.safetensors");
}

TEST_CASE("interop: every subcommand accepts every checkpoint shiftlab writes", "[cli][interop]") {
  TempDir tmp("matrix");
  std::string run = tmp.file("run");
  REQUIRE(run_cli("train --quant deepshift-q --epochs 1 --out " + run + kQuick).exit_code == 0);
  std::string sd = tmp.file("sd.safetensors");
  save_state_dict(sd, *make_model("mnist-conv", model_info("mnist-conv").natural));
  REQUIRE(run_cli("train --epochs 0 --out " + tmp.file("init")).exit_code == 0);
  REQUIRE(run_cli("convert --weights " + sd + " --quant apot -o " + tmp.file("apot.safetensors")).exit_code == 0);
  REQUIRE(run_cli("export --format torch --weights " + run + "/last.safetensors -o " + tmp.file("torch.safetensors"))
              .exit_code == 0);
  // Each file with its quantizer family: a new run from quantized weights (train --weights, convert)
  // names the family, as the seed scripts do.
  const std::vector<std::pair<std::string, std::string>> files = {
      {run + "/last.safetensors", "deepshift-q"}, {run + "/best.safetensors", "deepshift-q"},
      {tmp.file("init/last.safetensors"), "none"}, {tmp.file("apot.safetensors"), "apot"},
      {tmp.file("torch.safetensors"), "none"},     {sd, "none"}};
  for (size_t k = 0; k < files.size(); ++k) {
    const auto& [f, family] = files[k];
    const std::string quant = " --quant " + (family == "none" ? std::string("deepshift-ps") : family);
    const std::string commands[] = {
        "eval --test-subset 50 --weights " + f,
        "inspect " + f,
        "convert --weights " + f + quant + " -o " + tmp.file(fmt::format("c{}.safetensors", k)),
        "export --format torch --weights " + f + " -o " + tmp.file(fmt::format("t{}.safetensors", k)),
        "export --calibration-images 16 --weights " + f + " -o " + tmp.file(fmt::format("d{}.safetensors", k)),
        "train --epochs 0 --weights " + f + " --quant " + family + " --out " + tmp.file(fmt::format("w{}", k)),
    };
    for (const std::string& cmd : commands) {
      auto r = run_cli(cmd);
      INFO(cmd << "\n" << r.output);
      CHECK(r.exit_code == 0);
    }
  }
}

TEST_CASE("interop: export --format torch holds the effective weights under the reference names", "[cli][interop]") {
  TempDir tmp("torch");
  std::string run = tmp.file("run");
  REQUIRE(run_cli("train --quant deepshift-q --epochs 0 --out " + run).exit_code == 0);
  std::string out = tmp.file("t.safetensors");
  auto e = run_cli("export --format torch --weights " + run + "/last.safetensors -o " + out);
  INFO(e.output);
  REQUIRE(e.exit_code == 0);
  CHECK(has(e.output, out + ": 8 tensors, the effective weights of mnist-conv (quantization: deepshift-q"));
  CHECK(has(e.output, "for torch_ref.mnist_conv()"));
  CHECK(has(e.output, "note: 4 layers quantize their inputs in shiftlab; a weights-only file cannot say so"));
  SafetensorsContent t = load_safetensors(out);
  CHECK(t.metadata.at("format") == "pt");
  CHECK(t.metadata.at("shiftlab_reference") == "torch_ref.mnist_conv()");
  std::vector<std::string> names;
  for (auto& kv : t.tensors) names.push_back(kv.first);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight",
                                          "9.bias"});
  for (float w : sl::test::tensor_of(t, "3.weight").to_vector<float>()) {
    float e2 = std::log2(std::abs(w));
    CHECK((w == 0 || e2 == std::floor(e2)));  // DeepShift-Q: sign * 2^p
  }
  auto bad = run_cli("export --format onnx --weights " + run + "/last.safetensors -o " + out);
  CHECK(bad.exit_code == 1);
  CHECK(has(bad.output, "shiftlab: error: export --format 'onnx' is not one of: deploy, torch"));
}

TEST_CASE("interop: CLI messages: did you mean, defaults in help, per-subcommand flags", "[cli][interop]") {
  auto f = run_cli("train --epoch 1");
  CHECK(f.exit_code != 0);
  CHECK(has(f.output, "shiftlab: unknown option '--epoch' for 'train'; did you mean '--epochs'?"));
  auto s = run_cli("trian --epochs 1");
  CHECK(s.exit_code != 0);
  CHECK(has(s.output, "shiftlab: unknown subcommand 'trian'; did you mean 'train'?"));
  auto e = run_cli("eval --lr 0.1");  // a training flag is not eval's, and nothing is close to it
  CHECK(e.exit_code != 0);
  CHECK(has(e.output, "--lr"));
  CHECK_FALSE(has(e.output, "did you mean"));
  auto t = run_cli("eval --test-subet 10");
  CHECK(has(t.output, "shiftlab: unknown option '--test-subet' for 'eval'; did you mean '--test-subset'?"));

  auto train = run_cli("train --help");
  CHECK(has(train.output, "--epochs INT=10"));
  CHECK(has(train.output, "--wd-all"));
  CHECK(has(train.output, "Weight decay (not applied to BN, biases and quantizer scales unless --wd-all)"));
  auto eval = run_cli("eval --help");
  CHECK(has(eval.output, "--test-subset INT=0"));
  CHECK(has(eval.output, "--save-logits"));
  CHECK_FALSE(has(eval.output, "--lr "));
  CHECK_FALSE(has(eval.output, "--batch-size"));
  auto inspect = run_cli("inspect --help");
  CHECK(has(inspect.output, "--full"));
  CHECK_FALSE(has(inspect.output, "--epochs"));
  auto convert = run_cli("convert --help");
  CHECK(has(convert.output, "--quant TEXT=none"));
  CHECK_FALSE(has(convert.output, "--momentum"));
}

TEST_CASE("interop: eval says what it evaluates, inspect prints 2^e and folds long tables", "[cli][interop]") {
  TempDir tmp("eval");
  std::string run = tmp.file("run");
  REQUIRE(run_cli("train --quant deepshift-q --epochs 1 --out " + run + kQuick).exit_code == 0);
  std::string ck = run + "/last.safetensors";
  auto e = run_cli("eval --weights " + ck);
  INFO(e.output);
  CHECK(has(e.output, "eval " + ck + " (mnist-conv, quantization deepshift-q) on Fashion-MNIST test"));
  CHECK(has(e.output, ", the first 100 images (--test-subset 100, from the checkpoint's run config)\n"));
  auto g = run_cli("eval --weights " + ck + " --test-subset 40");
  CHECK(has(g.output, ", the first 40 images (--test-subset 40)\n"));

  auto i = run_cli("inspect " + ck);
  INFO(i.output);
  CHECK(i.exit_code == 0);
  CHECK(has(i.output, "       -2^-3 "));
  CHECK_FALSE(has(i.output, "e-05"));
  CHECK(has(i.output, "more levels; --full shows all)"));
  auto full = run_cli("inspect --full " + ck);
  CHECK_FALSE(has(full.output, "more levels"));
  CHECK(std::count(full.output.begin(), full.output.end(), '\n') > std::count(i.output.begin(), i.output.end(), '\n'));

  // A finished run resumed: nothing to do, and nothing rewritten.
  auto before = std::filesystem::last_write_time(ck);
  auto r = run_cli("train --resume " + ck);
  CHECK(r.exit_code == 0);
  CHECK(has(r.output, "nothing to do: " + ck + " has finished epoch 1 of --epochs 1 (a larger --epochs trains on)"));
  CHECK(std::filesystem::last_write_time(ck) == before);
}

TEST_CASE("interop: --wd leaves BN, biases and quantizer scales undecayed unless --wd-all", "[interop][optim]") {
  ModulePtr net = make_model("resnet20", model_info("resnet20").natural);
  RunConfig c;
  c.weight_decay = 5e-4;
  std::vector<ParamGroup> groups = param_groups(*net, c);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].options.weight_decay() == 5e-4);
  CHECK(groups[1].options.weight_decay() == 0);
  for (auto& [name, t] : groups[0].params) CHECK((has(name, "conv") || has(name, "shortcut") || name == "linear.weight"));
  for (auto& [name, t] : groups[1].params) CHECK((has(name, "bn") || has(name, ".bias")));
  c.wd_all = true;
  groups = param_groups(*net, c);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].params.size() == net->named_parameters().size());
}
