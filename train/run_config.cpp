#include "train/run_config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/json_guard.h"
#include "quant/families.h"

namespace sl {

namespace {
const std::string& quant_help() {
  static const std::string help = "Quantizer family: " + quant_method_list();
  return help;
}
}  // namespace

std::vector<Field> run_config_fields(RunConfig& c) {
  return {
      {"dataset", "Dataset: fashion-mnist, mnist, kmnist, cifar10, cifar100, imagefolder", &c.dataset},
      {"data", "Dataset folder (default: the dataset's usual place)", &c.data},
      {"subset", "Train on the first N samples only (0 = all)", &c.subset},
      {"test_subset", "Evaluate on the first N test samples only (0 = all)", &c.test_subset},
      {"workers", "Threads decoding and augmenting data (0 = all cores)", &c.workers},
      {"arch", "Model architecture (see docs/models.md)", &c.arch},
      {"shortcut", "ResNet shortcut: A (parameter-free) or B (1x1 conv); empty = the model's default", &c.shortcut},
      {"expansion", "ShiftResNet expansion: middle width = int(out * e)", &c.expansion},
      {"shift_kernel", "ShiftResNet shift neighbourhood k (odd)", &c.shift_kernel},
      {"reduction", "CIFAR ResNet reduction r (shiftresnet-cifar's baselines; 1 = none)", &c.reduction},
      {"reduction_mode", "net (all widths / sqrt(r)) or block (inner widths / r)", &c.reduction_mode},
      {"num_classes", "Classes of the model's output (0 = the dataset's; image folders count their class folders)",
       &c.num_classes},
      {"image_size", "Input height and width of the model (0 = the dataset's; image folders: 224)", &c.image_size},
      {"epochs", "Epochs to train (0: write the initial checkpoint only)", &c.epochs},
      {"start_epoch", "A new run starts at this epoch number (schedule and metrics; PyTorch's --start-epoch)",
       &c.start_epoch},
      {"batch_size", "Training batch size", &c.batch_size},
      {"test_batch_size", "Evaluation batch size", &c.test_batch_size},
      {"optimizer", "sgd, adam, adamw, radam or ranger", &c.optimizer},
      {"lr", "Initial learning rate", &c.lr},
      {"momentum", "SGD momentum", &c.momentum},
      {"weight_decay", "Weight decay (not applied to BN, biases and quantizer scales unless --wd-all)", &c.weight_decay},
      {"wd_all", "Apply --weight-decay to every parameter, BN, biases and quantizer scales included", &c.wd_all},
      {"nesterov", "Nesterov momentum (SGD)", &c.nesterov},
      {"label_smoothing", "Label smoothing of the cross-entropy loss", &c.label_smoothing},
      {"lr_schedule", "none, step, multistep, cosine or exponential (stepped per epoch)", &c.lr_schedule},
      {"lr_step_size", "step: epochs between decays", &c.lr_step_size},
      {"lr_milestones", "multistep: epochs at which the lr decays", &c.lr_milestones},
      {"lr_gamma", "Decay factor of step, multistep and exponential", &c.lr_gamma},
      {"lr_min", "cosine: the final learning rate", &c.lr_min},
      {"warmup_epochs", "Linear warm-up epochs before the schedule", &c.warmup_epochs},
      {"seed", "Random seed (model init, shuffling, augmentation, dropout)", &c.seed},
      {"threads", "CPU threads (0 = all cores)", &c.threads},
      {"device", "cpu or cuda", &c.device},
      {"winograd",
       "CPU 3x3 stride-1 convs: on (Winograd, the default) or off (the direct conv: slower, rounds as runs before "
       "Winograd did)",
       &c.winograd},
      {"print_freq", "Batches between progress lines when the output is not a terminal", &c.print_freq},
      {"out", "Run directory for config.json, metrics.jsonl and checkpoints", &c.out},
      {"resume", "Continue the run saved in this checkpoint", &c.resume},
      {"weights", "Initialise the model from this checkpoint (FP32 weights are converted)", &c.weights},
      {"no_stats", "Do not record the per-epoch layer statistics (stats.jsonl)", &c.no_stats},
      {"report", "Write the HTML report (report.html) into the run directory when training ends", &c.report},
      {"sync_bn", "Data-parallel runs (mpirun): batch norm statistics over the global batch, not each rank's share",
       &c.sync_bn},
      {"quant", quant_help().c_str(), &c.quant},
      {"weight_bits", "Weight bits (0 = the family's default)", &c.weight_bits},
      {"act_bits", "Activation bits: DeepShift I F (fixed point), APoT/uniform B", &c.act_bits},
      {"quant_depth", "How many layers to quantize (DeepShift's --shift-depth; -1 = all)", &c.quant_depth},
      {"quant_order", "Which layers --quant-depth counts: last (DeepShift's code) or first", &c.quant_order},
      {"first_last", "First conv / last FC: auto (each paper's rule), quantize, fp32 or 8bit", &c.first_last},
      {"quant_scale", "Scale APoT/S3/DenseShift levels per layer: auto (models without BatchNorm), on, off", &c.quant_scale},
      {"rounding", "DeepShift rounding: deterministic or stochastic", &c.rounding},
      {"apot_flavour", "APoT code flavour: imagenet or cifar", &c.apot_flavour},
      {"s3_init", "S3 initialisation: dense or he", &c.s3_init},
      {"lr_sign", "DeepShift-PS: learning rate of the sign parameters (-1 = --lr)", &c.lr_sign},
      {"reg", "Weight of the family's regulariser (-1 = its default: DeepShift-PS wd, S3 1e-5)", &c.reg},
  };
}

nlohmann::ordered_json to_json(const RunConfig& config) {
  RunConfig copy = config;
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const Field& f : run_config_fields(copy))
    std::visit([&](auto* p) { j[f.key] = *p; }, f.ref);
  return j;
}

namespace {

const char* type_name(const FieldRef& ref) {
  switch (ref.index()) {
    case 0: return "a string";
    case 1: return "an integer (64-bit)";
    case 2: return "an integer (32-bit)";
    case 3: return "a non-negative integer";
    case 4: return "a number";
    case 5: return "true or false";
    case 6: return "a list of integers (64-bit)";
    default: return "a list of integers (32-bit)";
  }
}

// An integer of type T exactly: a JSON integer within T's range (nlohmann's get<> would wrap 2^53
// into an int as 0, and 2^64 - 1 into an int64 as -1).
template <class T>
bool read_integer(const nlohmann::json& v, T& out) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(u);
    return true;
  }
  if (!v.is_number_integer()) return false;
  int64_t i = v.get<int64_t>();
  if (i < static_cast<int64_t>(std::numeric_limits<T>::min()) || i > static_cast<int64_t>(std::numeric_limits<T>::max()))
    return false;
  out = static_cast<T>(i);
  return true;
}

template <class T>
bool read_integers(const nlohmann::json& v, std::vector<T>& out) {
  if (!v.is_array()) return false;
  std::vector<T> values(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    if (!read_integer(v[i], values[i])) return false;
  out = std::move(values);
  return true;
}

// Reads one value, or returns false when the JSON type or range does not fit.
bool read_value(const nlohmann::json& v, const FieldRef& ref) {
  switch (ref.index()) {
    case 0: if (!v.is_string()) return false; *std::get<0>(ref) = v.get<std::string>(); return true;
    case 1: return read_integer(v, *std::get<1>(ref));
    case 2: return read_integer(v, *std::get<2>(ref));
    case 3: return v.is_number_unsigned() && read_integer(v, *std::get<3>(ref));
    case 4: if (!v.is_number()) return false; *std::get<4>(ref) = v.get<double>(); return true;
    case 5: if (!v.is_boolean()) return false; *std::get<5>(ref) = v.get<bool>(); return true;
    case 6: return read_integers(v, *std::get<6>(ref));
    default: return read_integers(v, *std::get<7>(ref));
  }
}

// The closest key, for "did you mean" hints (edit distance <= 3).
std::string closest_key(const std::string& key, const std::vector<Field>& fields) {
  std::string best;
  size_t best_d = 4;
  for (const Field& f : fields) {
    std::string k = f.key;
    std::vector<size_t> prev(k.size() + 1), cur(k.size() + 1);
    for (size_t j = 0; j <= k.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= key.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= k.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (key[i - 1] == k[j - 1] ? 0 : 1)});
      prev.swap(cur);
    }
    if (prev[k.size()] < best_d) {
      best_d = prev[k.size()];
      best = k;
    }
  }
  return best;
}

}  // namespace

void apply_json(RunConfig& config, const nlohmann::json& json, const std::string& source) {
  SL_CHECK(json.is_object(), "{}: the config must be a JSON object", source);
  std::vector<Field> fields = run_config_fields(config);
  for (auto it = json.begin(); it != json.end(); ++it) {
    auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return it.key() == x.key; });
    if (f == fields.end()) {
      std::string hint = closest_key(it.key(), fields);
      fail("{}: unknown key '{}'{}", source, it.key(), hint.empty() ? "" : " (did you mean '" + hint + "'?)");
    }
    SL_CHECK(read_value(it.value(), f->ref), "{}: key '{}' must be {}, got {}", source, it.key(), type_name(f->ref),
             describe_json(it.value()));
  }
}

nlohmann::json parse_config_json(std::string_view text, const std::string& path) {
  // A config is one object of scalars and lists of numbers; anything deeper is not a config.
  check_json_depth(text, 4, path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  RunConfig scratch;
  apply_json(scratch, j, path);
  return j;
}

nlohmann::json load_config_json(const std::string& path) {
  std::vector<char> bytes = read_file(path);
  return parse_config_json(std::string_view(bytes.data(), bytes.size()), path);
}

namespace {
void check_choice(const std::string& key, const std::string& value, const std::vector<std::string>& choices) {
  for (const std::string& c : choices)
    if (value == c) return;
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
  std::string flag = key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  fail("{} (--{}) '{}' is not one of: {}", key, flag, value, list);
}
}  // namespace

void validate(const RunConfig& c) {
  SL_CHECK(c.epochs >= 0, "epochs (--epochs) must be >= 0, got {}", c.epochs);
  SL_CHECK(c.start_epoch >= 0, "start_epoch (--start-epoch) must be >= 0, got {}", c.start_epoch);
  SL_CHECK(c.num_classes >= 0, "num_classes (--num-classes) must be >= 0 (0 = the dataset's), got {}", c.num_classes);
  SL_CHECK(c.image_size >= 0 && c.image_size <= 4096, "image_size (--image-size) must be in [0, 4096] (0 = the dataset's), got {}",
           c.image_size);
  SL_CHECK(c.batch_size >= 1, "batch_size (--batch-size) must be >= 1, got {}", c.batch_size);
  SL_CHECK(c.test_batch_size >= 1, "test_batch_size (--test-batch-size) must be >= 1, got {}", c.test_batch_size);
  SL_CHECK(c.subset >= 0 && c.test_subset >= 0, "subset (--subset) and test_subset (--test-subset) must be >= 0");
  // Upper bounds too: oneTBB cannot make an arena of 2^31 threads, and each worker holds a batch.
  SL_CHECK(c.workers >= 0 && c.workers <= kMaxThreads, "workers (--workers) must be in [0, {}], got {}", kMaxThreads,
           c.workers);
  SL_CHECK(c.threads >= 0 && c.threads <= kMaxThreads, "threads (--threads) must be in [0, {}], got {}", kMaxThreads,
           c.threads);
  SL_CHECK(c.lr > 0 && std::isfinite(c.lr), "lr (--lr) must be positive, got {}", c.lr);
  SL_CHECK(c.momentum >= 0 && c.momentum < 1, "momentum (--momentum) must be in [0, 1), got {}", c.momentum);
  SL_CHECK(c.weight_decay >= 0, "weight_decay (--weight-decay) must be >= 0, got {}", c.weight_decay);
  SL_CHECK(c.label_smoothing >= 0 && c.label_smoothing < 1, "label_smoothing (--label-smoothing) must be in [0, 1), got {}",
           c.label_smoothing);
  SL_CHECK(c.lr_step_size >= 1, "lr_step_size (--lr-step-size) must be >= 1, got {}", c.lr_step_size);
  SL_CHECK(c.lr_gamma > 0, "lr_gamma (--lr-gamma) must be positive, got {}", c.lr_gamma);
  SL_CHECK(c.lr_min >= 0, "lr_min (--lr-min) must be >= 0, got {}", c.lr_min);
  SL_CHECK(c.warmup_epochs >= 0, "warmup_epochs (--warmup-epochs) must be >= 0, got {}", c.warmup_epochs);
  SL_CHECK(c.print_freq >= 1, "print_freq (--print-freq) must be >= 1, got {}", c.print_freq);
  for (int64_t m : c.lr_milestones) SL_CHECK(m >= 0, "lr_milestones (--lr-milestones) must be >= 0, got {}", m);
  check_choice("optimizer", c.optimizer, {"sgd", "adam", "adamw", "radam", "ranger"});
  check_choice("lr_schedule", c.lr_schedule, {"none", "step", "multistep", "cosine", "exponential"});
  check_choice("device", c.device, {"cpu", "cuda"});
  check_choice("quant", c.quant, quant_method_names());
  check_choice("quant_order", c.quant_order, {"last", "first"});
  check_choice("first_last", c.first_last, {"auto", "quantize", "fp32", "8bit"});
  check_choice("quant_scale", c.quant_scale, {"auto", "on", "off"});
  check_choice("rounding", c.rounding, {"deterministic", "stochastic"});
  check_choice("winograd", c.winograd, {"on", "off"});
  check_choice("apot_flavour", c.apot_flavour, {"imagenet", "cifar"});
  check_choice("s3_init", c.s3_init, {"dense", "he"});
  SL_CHECK(c.quant_depth >= -1, "quant_depth (--quant-depth) must be >= 0 (or -1 for all layers), got {}", c.quant_depth);
  SL_CHECK(c.lr_sign == -1 || c.lr_sign >= 0, "lr_sign (--lr-sign) must be >= 0 (or -1 for --lr), got {}", c.lr_sign);
  SL_CHECK(c.reg == -1 || c.reg >= 0, "reg (--reg) must be >= 0 (or -1 for the family's default), got {}", c.reg);
}

const std::vector<std::string>& resume_locked_keys() {
  static const std::vector<std::string> keys = {
      "dataset",    "arch",       "shortcut",    "expansion",   "shift_kernel", "reduction",  "reduction_mode",
      "num_classes", "image_size", "quant",      "weight_bits", "act_bits",   "quant_depth", "quant_order",  "first_last", "quant_scale",
      "apot_flavour", "optimizer", "lr_schedule", "wd_all"};
  return keys;
}

}  // namespace sl
