#include "tools/run_options.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/json_guard.h"
#include "layers/models/registry.h"
#include "train/checkpoint.h"
#include "train/model_match.h"

namespace sl::tools {

namespace {

std::string flag_of(const char* key) {
  std::string f = key;
  std::replace(f.begin(), f.end(), '_', '-');
  return "--" + f;
}

// Extra spellings from the PyTorch ImageNet example and the seed repositories.
std::string aliases(const std::string& key) {
  if (key == "arch") return "-a,";
  if (key == "batch_size") return "-b,";
  if (key == "workers") return "-j,";
  if (key == "print_freq") return "-p,";
  if (key == "weight_decay") return "--wd,";
  if (key == "lr") return "--learning-rate,";
  if (key == "quant_depth") return "--shift-depth,";
  if (key == "act_bits") return "--activation-bits,";
  if (key == "weights") return "--pretrained,";
  return "";
}

const std::vector<std::string> kModelKeys = {"arch", "num_classes", "image_size", "shortcut", "expansion",
                                             "shift_kernel", "reduction", "reduction_mode"};
const std::vector<std::string> kQuantKeys = {"quant", "weight_bits", "act_bits", "quant_depth", "quant_order",
                                             "first_last", "quant_scale", "rounding", "apot_flavour", "s3_init"};

std::vector<std::string> concat(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

}  // namespace

const std::vector<std::string>& eval_keys() {
  static const std::vector<std::string> keys = concat(
      {{"dataset", "data", "test_subset", "workers", "test_batch_size", "arch", "num_classes", "image_size", "seed",
        "threads", "device", "winograd", "print_freq", "weights"}});
  return keys;
}

const std::vector<std::string>& inspect_keys() {
  static const std::vector<std::string> keys = concat({{"dataset"}, kModelKeys, kQuantKeys});
  return keys;
}

const std::vector<std::string>& convert_keys() {
  static const std::vector<std::string> keys = concat({{"dataset", "data", "seed", "weights"}, kModelKeys, kQuantKeys});
  return keys;
}

void add_data_positional(CLI::App* cmd, CliState& st) {
  auto flag = std::find_if(st.options.begin(), st.options.end(), [](const auto& o) { return o.first == "data"; });
  SL_CHECK(flag != st.options.end(), "add_data_positional: the command has no --data");
  CLI::Option* dir = cmd->add_option("DIR", st.flags.data, "Dataset folder, as --data (the PyTorch example's form)");
  dir->excludes(flag->second);
  st.options.emplace_back("data", dir);
}

void add_run_options(CLI::App* cmd, CliState& st, const std::vector<std::string>& keys) {
  for (const Field& f : run_config_fields(st.flags)) {
    if (!keys.empty() && std::find(keys.begin(), keys.end(), f.key) == keys.end()) continue;
    std::string names = aliases(f.key) + flag_of(f.key);
    CLI::Option* opt = std::visit(
        [&](auto* p) -> CLI::Option* {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, bool>) return cmd->add_flag(names, *p, f.help);
          else return cmd->add_option(names, *p, f.help)->capture_default_str();
        },
        f.ref);
    st.options.emplace_back(f.key, opt);
  }
  cmd->add_option("--config", st.config_file, "JSON file with any of these keys (flags override it)");
}

namespace {

// Whether a flag (or the positional DIR) of `key` was given.
bool given(const CliState& st, const std::string& key) {
  for (const auto& [k, opt] : st.options)
    if (k == key && opt->count() > 0) return true;
  return false;
}

// Copies the fields whose flags were given from `from` into `to`.
void apply_given(const CliState& st, RunConfig& to) {
  RunConfig from = st.flags;
  std::vector<Field> src = run_config_fields(from), dst = run_config_fields(to);
  for (size_t i = 0; i < src.size(); ++i) {
    if (!given(st, src[i].key)) continue;
    std::visit([&](auto* s) { *std::get<decltype(s)>(dst[i].ref) = *s; }, src[i].ref);
  }
}


// A resumed run continues the saved model, quantizer and optimizer state, so the keys that define
// them must keep their stored values (a new run from --weights may change them).
void check_resume_keeps(const nlohmann::json& stored, const RunConfig& c, const std::string& ckpt) {
  nlohmann::json now = to_json(c);
  for (const std::string& key : resume_locked_keys()) {
    if (!stored.contains(key) || !now.contains(key) || stored[key] == now[key]) continue;
    fail("--resume {}: the run was trained with {} {} but this run asks for {} ({}); a resumed run keeps it (drop the "
         "option, or start a new run from the weights with --weights {})",
         ckpt, key, describe_json(stored[key]), describe_json(now[key]), flag_of(key.c_str()), ckpt);
  }
}

// A checkpoint without shiftlab metadata (a PyTorch state_dict): its tensors say the architecture
// (unless --arch does) and the classes.
struct Foreign {
  std::string path;
  std::map<std::string, Tensor> tensors;
};

void adopt_foreign(RunConfig& c, const Foreign& f, bool arch_given) {
  std::string how;
  if (arch_given) {
    how = "loaded as --arch " + c.arch;
    if (c.num_classes == 0) c.num_classes = options_from_tensors(c.arch, f.tensors).num_classes;
  } else {
    std::vector<ModelMatch> found = match_models(f.tensors);
    if (found.empty())
      fail("{}: no shiftlab metadata (a PyTorch state_dict?), and its tensors fit no shiftlab model; give --arch "
           "(docs/models.md). Closest, {}",
           f.path, closest_model(f.tensors));
    c.arch = found[0].arch;
    if (!found[0].options.shortcut.empty() && found[0].options.shortcut != model_info(c.arch).natural.shortcut)
      c.shortcut = found[0].options.shortcut;
    if (c.num_classes == 0) c.num_classes = found[0].options.num_classes;
    how = "its tensors fit --arch " + c.arch;
  }
  fmt::print("{}: no shiftlab metadata (a PyTorch state_dict); {} ({} classes)\n", f.path, how, c.num_classes);
}

// The dataset an architecture implies when none is given: an ImageNet model reads an image folder, and
// a PyTorch CIFAR model's checkpoint CIFAR-10 or CIFAR-100.
void default_dataset(RunConfig& c, bool foreign) {
  const std::string& family = model_info(c.arch).dataset;
  if (family == "imagenet") c.dataset = "imagefolder";
  else if (foreign && family == "cifar") c.dataset = c.num_classes == 100 ? "cifar100" : "cifar10";
}

bool has_key(const nlohmann::json& j, const char* key) { return j.is_object() && j.contains(key); }

// Applies the --config file, then the flags given, over a config seeded from a checkpoint's stored
// run config (`stored`, read from `source`; empty when there is none).
RunConfig finish(const CliState& st, RunConfig c, const nlohmann::json& file_json, const std::string& checkpoint_key,
                 const std::string& checkpoint, const nlohmann::json& stored, const std::string& source,
                 const Foreign* foreign = nullptr) {
  apply_json(c, file_json, st.config_file);
  apply_given(st, c);
  if (!checkpoint.empty()) (checkpoint_key == "resume" ? c.resume : c.weights) = checkpoint;
  if (foreign) adopt_foreign(c, *foreign, given(st, "arch") || has_key(file_json, "arch"));
  const std::vector<std::string> archs = model_names();
  if (!given(st, "dataset") && !has_key(file_json, "dataset") && !has_key(stored, "dataset") &&
      std::find(archs.begin(), archs.end(), c.arch) != archs.end())
    default_dataset(c, foreign != nullptr);
  if (checkpoint_key == "resume" && !source.empty() && stored.is_object()) check_resume_keeps(stored, c, source);
  try {
    validate(c);
  } catch (const Error& e) {
    // A value out of range may come from a file: say which files the settings were read from.
    std::string from = st.config_file;
    if (!source.empty() && stored.is_object() && !stored.empty())
      from += (from.empty() ? "" : ", ") + source + " (stored run config)";
    if (from.empty()) throw;
    fail("{} (settings from the flags and {})", e.what(), from);
  }
  return c;
}

}  // namespace

// Defaults <- checkpoint config <- --config file <- flags.
RunConfig resolve(const CliState& st, const std::string& checkpoint_key, const std::string& checkpoint) {
  nlohmann::json file_json = nlohmann::json::object();
  if (!st.config_file.empty()) file_json = load_config_json(st.config_file);
  auto path_of = [&](const std::string& key) -> std::string {
    if (given(st, key)) return key == "resume" ? st.flags.resume : st.flags.weights;
    return has_key(file_json, key.c_str()) ? file_json[key].get<std::string>() : "";
  };
  std::string ckpt = path_of(checkpoint_key);
  if (!checkpoint.empty()) ckpt = checkpoint;
  RunConfig c;
  nlohmann::json stored = nlohmann::json::object();
  Foreign foreign;
  if (!ckpt.empty()) {
    Checkpoint k = load_checkpoint(ckpt);
    if (!k.config.empty()) apply_json(c, k.config, ckpt + " (stored run config)");
    else foreign = {ckpt, std::move(k.model)};
    // Image-folder runs written before num_classes was stored: the classifier says it.
    if (!k.config.empty() && c.dataset == "imagefolder" && c.num_classes == 0)
      c.num_classes = options_from_tensors(c.arch, k.model).num_classes;
    stored = k.config;
  } else if (checkpoint_key == "resume" && !path_of("weights").empty()) {
    // train --weights: a PyTorch state_dict names the architecture too.
    Checkpoint k = load_checkpoint(path_of("weights"));
    if (k.config.empty()) foreign = {path_of("weights"), std::move(k.model)};
  }
  return finish(st, c, file_json, checkpoint_key, checkpoint, stored, ckpt, foreign.path.empty() ? nullptr : &foreign);
}

RunConfig resolve_stored(const CliState& st, const nlohmann::json& stored, const std::string& source) {
  RunConfig c;
  if (!stored.is_null() && !stored.empty()) apply_json(c, stored, source + " (stored run config)");
  nlohmann::json file_json = nlohmann::json::object();
  if (!st.config_file.empty()) file_json = load_config_json(st.config_file);
  return finish(st, c, file_json, "", "", stored, source);
}

nlohmann::json stored_run_config(const std::map<std::string, std::string>& metadata, const std::string& path) {
  auto stored = metadata.find("config");
  if (stored == metadata.end()) return nlohmann::json::object();
  check_json_depth(stored->second, 4, path + ": the stored run config");
  nlohmann::json config = nlohmann::json::parse(stored->second, nullptr, false);
  SL_CHECK(!config.is_discarded(), "{}: the stored run config is not valid JSON", path);
  return config;
}

}  // namespace sl::tools
