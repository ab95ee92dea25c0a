#include "tools/run_options.h"

#include <algorithm>

#include "engine/json_guard.h"
#include "train/checkpoint.h"

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
  return "";
}

}  // namespace

void add_run_options(CLI::App* cmd, CliState& st) {
  for (const Field& f : run_config_fields(st.flags)) {
    std::string names = aliases(f.key) + flag_of(f.key);
    CLI::Option* opt = std::visit(
        [&](auto* p) -> CLI::Option* {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, bool>) return cmd->add_flag(names, *p, f.help);
          else return cmd->add_option(names, *p, f.help);
        },
        f.ref);
    st.options.emplace_back(f.key, opt);
  }
  cmd->add_option("--config", st.config_file, "JSON file with any of these keys (flags override it)");
}

namespace {

// Copies the fields whose flags were given from `from` into `to`.
void apply_given(const CliState& st, RunConfig& to) {
  RunConfig from = st.flags;
  std::vector<Field> src = run_config_fields(from), dst = run_config_fields(to);
  for (size_t i = 0; i < src.size(); ++i) {
    if (st.options[i].second->count() == 0) continue;
    std::visit([&](auto* s) { *std::get<decltype(s)>(dst[i].ref) = *s; }, src[i].ref);
  }
}

bool given(const CliState& st, const std::string& key) {
  for (const auto& [k, opt] : st.options)
    if (k == key) return opt->count() > 0;
  return false;
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

// Applies the --config file, then the flags given, over a config seeded from a checkpoint's stored
// run config (`stored`, read from `source`; empty when there is none).
RunConfig finish(const CliState& st, RunConfig c, const nlohmann::json& file_json, const std::string& checkpoint_key,
                 const std::string& checkpoint, const nlohmann::json& stored, const std::string& source) {
  apply_json(c, file_json, st.config_file);
  apply_given(st, c);
  if (!checkpoint.empty()) (checkpoint_key == "resume" ? c.resume : c.weights) = checkpoint;
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
  std::string ckpt = given(st, checkpoint_key) ? (checkpoint_key == "resume" ? st.flags.resume : st.flags.weights)
                                                : (file_json.contains(checkpoint_key) ? file_json[checkpoint_key].get<std::string>() : "");
  if (!checkpoint.empty()) ckpt = checkpoint;
  RunConfig c;
  nlohmann::json stored = nlohmann::json::object();
  if (!ckpt.empty()) {
    Checkpoint k = load_checkpoint(ckpt);
    if (!k.config.is_null() && !k.config.empty()) apply_json(c, k.config, ckpt + " (stored run config)");
    stored = k.config;
  }
  return finish(st, c, file_json, checkpoint_key, checkpoint, stored, ckpt);
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
