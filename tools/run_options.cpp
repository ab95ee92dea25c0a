#include "tools/run_options.h"

#include <algorithm>

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

// Applies the --config file, then the flags given, over a config seeded from a checkpoint.
RunConfig finish(const CliState& st, RunConfig c, const nlohmann::json& file_json, const std::string& checkpoint_key,
                 const std::string& checkpoint) {
  apply_json(c, file_json, st.config_file);
  apply_given(st, c);
  if (!checkpoint.empty()) (checkpoint_key == "resume" ? c.resume : c.weights) = checkpoint;
  validate(c);
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
  if (!ckpt.empty()) {
    Checkpoint k = load_checkpoint(ckpt);
    if (!k.config.is_null() && !k.config.empty()) apply_json(c, k.config, ckpt + " (stored run config)");
  }
  return finish(st, c, file_json, checkpoint_key, checkpoint);
}

RunConfig resolve_stored(const CliState& st, const nlohmann::json& stored, const std::string& source) {
  RunConfig c;
  if (!stored.is_null() && !stored.empty()) apply_json(c, stored, source + " (stored run config)");
  nlohmann::json file_json = nlohmann::json::object();
  if (!st.config_file.empty()) file_json = load_config_json(st.config_file);
  return finish(st, c, file_json, "", "");
}

}  // namespace sl::tools
