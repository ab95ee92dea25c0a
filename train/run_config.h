// The resolved configuration of a run: every key of `--config run.json`, each also a flag of
// `shiftlab train` / `eval` (key `batch_size` <-> flag `--batch-size`). One field table
// (run_config_fields) drives the JSON reader and writer and the CLI, so a key cannot exist in one
// and not the other. The resolved config is written to RUN_DIR/config.json and into every
// checkpoint's metadata.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sl {

struct RunConfig {
  // data
  std::string dataset = "fashion-mnist";
  std::string data;         // folder; "" = the dataset's default
  int64_t subset = 0;       // > 0: the first N training samples only (quick experiments)
  int64_t test_subset = 0;  // > 0: the first N test samples only
  int workers = 0;          // decode/augment threads; 0 = all
  // model
  std::string arch = "mnist-conv";
  std::string shortcut;     // ResNet shortcut option "A" | "B" ("" = the model's default)
  double expansion = 1;     // ShiftResNet: middle width = int(out * expansion)
  int64_t shift_kernel = 3; // ShiftResNet: k of the k x k shift neighbourhood
  double reduction = 1;     // CIFAR ResNet: shiftresnet-cifar's reduction r
  std::string reduction_mode;  // "net" | "block" ("" = net)
  int64_t num_classes = 0;  // 0 = the dataset's (image folders: the class folders counted)
  int64_t image_size = 0;   // 0 = the dataset's (image folders: 224)
  // optimisation
  int64_t epochs = 10;
  int64_t start_epoch = 0;  // a new run starts its schedule at this epoch (PyTorch's --start-epoch)
  int64_t batch_size = 64;
  int64_t test_batch_size = 1000;
  std::string optimizer = "sgd";  // sgd | adam | adamw | radam | ranger
  double lr = 0.01;
  double momentum = 0.9;
  double weight_decay = 0;
  bool wd_all = false;          // decay every parameter (default: not BN, biases, quantizer scales)
  bool nesterov = false;
  double label_smoothing = 0;
  std::string lr_schedule = "none";  // none | step | multistep | cosine | exponential
  int64_t lr_step_size = 30;
  std::vector<int64_t> lr_milestones;
  double lr_gamma = 0.1;
  double lr_min = 0;            // cosine: eta_min
  int64_t warmup_epochs = 0;    // linear warm-up in front of the schedule
  // run
  uint64_t seed = 1;
  int threads = 0;              // 0 = all cores
  std::string device = "cpu";   // cpu | cuda
  std::string winograd = "on";  // CPU 3x3 stride-1 convs: on (Winograd) | off (the direct conv)
  int64_t print_freq = 100;     // batches between progress lines (non-terminal output)
  std::string out;              // run directory ("" = runs/<arch>-<quant>-seed<seed>)
  std::string resume;           // checkpoint to continue from
  std::string weights;          // checkpoint to initialise the model from (train from pretrained)
  bool no_stats = false;        // skip the per-epoch layer statistics (RUN_DIR/stats.jsonl)
  bool report = false;          // write RUN_DIR/report.html when training ends
  bool sync_bn = false;         // data-parallel runs: batch norm statistics over the global batch
  // quantization (docs/quantizers.md)
  std::string quant = "none";   // none | deepshift-q | deepshift-ps | apot | uniform | s3 | denseshift
  int weight_bits = 0;          // 0 = the family's default (DeepShift 5, APoT 4, S3/DenseShift 3)
  std::vector<int> act_bits;    // DeepShift: [integer, fraction] fixed point (default 16 16); APoT: [bits]
  int64_t quant_depth = -1;     // DeepShift's --shift-depth: layers to convert (-1 = all)
  std::string quant_order = "last";  // "last": DeepShift's code (last N convs + all linear); "first"
  std::string first_last = "auto";   // auto (each paper's rule) | quantize | fp32 | 8bit
  std::string quant_scale = "auto";  // per-layer level scale for APoT/S3/DenseShift: auto (when the model has no BatchNorm) | on | off
  std::string rounding = "deterministic";
  std::string apot_flavour = "imagenet";
  std::string s3_init = "dense";
  double lr_sign = -1;          // DeepShift-PS sign lr (-1 = lr)
  double reg = -1;              // regulariser weight (-1 = the family's: PS wd, S3 1e-5)
};

// The most threads a run may ask for (--threads, --workers).
constexpr int kMaxThreads = 1024;

// One config key, pointing into a RunConfig.
using FieldRef = std::variant<std::string*, int64_t*, int*, uint64_t*, double*, bool*, std::vector<int64_t>*,
                              std::vector<int>*>;
struct Field {
  const char* key;
  const char* help;
  FieldRef ref;
};
std::vector<Field> run_config_fields(RunConfig& config);

nlohmann::ordered_json to_json(const RunConfig& config);
// Reads keys from `json` into `config` (others keep their values). Throws naming `source` and the
// key on an unknown key, a wrong type, or a value out of range.
void apply_json(RunConfig& config, const nlohmann::json& json, const std::string& source);
// Parses a config file, checking its keys and value types (errors name the file and the key).
nlohmann::json load_config_json(const std::string& path);
// The same, from text in memory; `path` names it in errors.
nlohmann::json parse_config_json(std::string_view text, const std::string& path);
// Checks ranges and choices; throws naming the key.
void validate(const RunConfig& config);
// Keys a resumed run must keep: they define the model, its quantization or the schedule the saved
// optimizer state belongs to.
const std::vector<std::string>& resume_locked_keys();

}  // namespace sl
