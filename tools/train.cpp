// `shiftlab train` and `shiftlab eval`. Every RunConfig key is a flag (`batch_size` ->
// `--batch-size`); the resolved config is, in order: the defaults, the run config stored in a
// --resume checkpoint (eval: in the --weights checkpoint), the --config file, then the flags given.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

#include "engine/file_io.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "tools/commands.h"

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

struct CliState {
  RunConfig flags;  // values as parsed from the command line
  std::vector<std::pair<std::string, CLI::Option*>> options;
  std::string config_file;
  bool evaluate = false;
};

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

// Defaults <- checkpoint config <- --config file <- flags.
RunConfig resolve(const CliState& st, const std::string& checkpoint_key) {
  RunConfig file_cfg;
  nlohmann::json file_json = nlohmann::json::object();
  if (!st.config_file.empty()) {
    file_cfg = load_run_config(st.config_file);  // validates keys and types
    std::vector<char> bytes = read_file(st.config_file);
    file_json = nlohmann::json::parse(bytes.begin(), bytes.end());
  }
  std::string ckpt = given(st, checkpoint_key) ? (checkpoint_key == "resume" ? st.flags.resume : st.flags.weights)
                                                : (file_json.contains(checkpoint_key) ? file_json[checkpoint_key].get<std::string>() : "");
  RunConfig c;
  if (!ckpt.empty()) {
    Checkpoint k = load_checkpoint(ckpt);
    if (!k.config.is_null() && !k.config.empty()) apply_json(c, k.config, ckpt + " (stored run config)");
  }
  apply_json(c, file_json, st.config_file);
  apply_given(st, c);
  validate(c);
  return c;
}

int run_train(const CliState& st) {
  RunConfig c = resolve(st, "resume");
  if (st.evaluate) {
    SL_CHECK(!c.weights.empty() || !c.resume.empty(), "-e/--evaluate needs --weights or --resume");
    Trainer t(c, false);
    t.evaluate();
    return 0;
  }
  Trainer t(c, true);
  return t.train() == RunStatus::interrupted ? 130 : 0;
}

int run_eval(const CliState& st) {
  RunConfig c = resolve(st, "weights");
  SL_CHECK(!c.weights.empty(), "eval needs --weights CHECKPOINT");
  c.resume.clear();
  Trainer t(c, false);
  t.evaluate();
  return 0;
}

}  // namespace

void add_train_commands(CLI::App& app, int& exit_code) {
  auto train_state = std::make_shared<CliState>();
  auto* train = app.add_subcommand("train", "Train a model (FP32 or a shift network) and evaluate it every epoch");
  add_run_options(train, *train_state);
  train->add_flag("-e,--evaluate", train_state->evaluate, "Only evaluate the model given by --weights or --resume");
  train->callback([train_state, &exit_code] { exit_code = run_train(*train_state); });

  auto eval_state = std::make_shared<CliState>();
  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint on the test split (its run config is reused)");
  add_run_options(eval, *eval_state);
  eval->callback([eval_state, &exit_code] { exit_code = run_eval(*eval_state); });
}

}  // namespace sl::tools
