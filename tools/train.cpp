// `shiftlab train` and `shiftlab eval` (flags and config resolution: tools/run_options.h).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "deploy/runtime.h"
#include "engine/factory.h"
#include "report/html.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "train/trainer.h"

namespace sl::tools {

namespace {

int run_train(const CliState& st) {
  RunConfig c = resolve(st, "resume");
  if (st.evaluate) {
    SL_CHECK(!c.weights.empty() || !c.resume.empty(), "-e/--evaluate needs --weights or --resume");
    Trainer t(c, false);
    t.evaluate();
    return 0;
  }
  Trainer t(c, true);
  if (t.train() == RunStatus::interrupted) return 130;
  if (c.report) {
    std::string path = (std::filesystem::path(t.run_dir()) / "report.html").string();
    print_report_written(path, report::write_report({t.run_dir()}, path));
  }
  return 0;
}

// The deploy model on the test split of the dataset it was trained on (its stored run config, then
// --config and flags), scored and printed as the float eval.
int run_eval_deploy(const CliState& st, const std::string& path) {
  deploy::InferenceModel model = deploy::InferenceModel::load(path);
  RunConfig c = resolve_stored(st, stored_run_config(model.graph().metadata, path), path);
  c.weights.clear();
  Loaders loaders = build_loaders(c, false);
  fmt::print("deploy model {} (integer kernels, target {}) on {}\n", path, deploy::deploy_kernels().target,
             loaders.test_set.dataset->describe());
  evaluate_loader(
      *loaders.test,
      [&](const Tensor& x) {
        SL_CHECK(x.size(1) == model.input_channels() && x.size(2) == model.input_height() &&
                     x.size(3) == model.input_width(),
                 "{}: the model takes {}x{}x{} images, the dataset gives {}", path, model.input_channels(),
                 model.input_height(), model.input_width(), shape_str(x.shape()));
        std::vector<float> images = x.to_vector<float>();
        std::vector<float> logits = model.run(images.data(), x.size(0));
        return from_vector(logits, {x.size(0), model.num_outputs()});
      },
      c.print_freq);
  return 0;
}

int run_eval(const CliState& st, const std::string& deploy_model) {
  if (!deploy_model.empty()) return run_eval_deploy(st, deploy_model);
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
  auto deploy_model = std::make_shared<std::string>();
  eval->add_option("--deploy", *deploy_model,
                   "Evaluate this deploy model (shiftlab export) on the integer runtime instead of a checkpoint");
  eval->callback([eval_state, deploy_model, &exit_code] { exit_code = run_eval(*eval_state, *deploy_model); });
}

}  // namespace sl::tools
