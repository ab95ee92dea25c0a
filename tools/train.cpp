// `shiftlab train` and `shiftlab eval` (flags and config resolution: tools/run_options.h).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "autograd/ops.h"
#include "deploy/runtime.h"
#include "engine/factory.h"
#include "engine/npy.h"
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
  if (!c.resume.empty()) {
    // A finished run: say so before loading any data (an --epochs 0 checkpoint may have none).
    Checkpoint k = load_checkpoint(c.resume);
    if (k.has_trainer_state && k.trainer.epoch >= c.epochs && k.trainer.batch == 0) {
      fmt::print("nothing to do: {} has finished epoch {} of --epochs {} (a larger --epochs trains on)\n", c.resume,
                 k.trainer.epoch, c.epochs);
      return 0;
    }
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

bool flag_given(const CliState& st, const std::string& key) {
  for (const auto& [k, opt] : st.options)
    if (k == key) return opt->count() > 0;
  return false;
}

struct EvalOutputs {
  std::string deploy_model, logits, inputs;  // --deploy, --save-logits, --save-inputs
};

int run_eval(const CliState& st, const EvalOutputs& out) {
  if (!out.deploy_model.empty()) return run_eval_deploy(st, out.deploy_model);
  RunConfig c = resolve(st, "weights");
  SL_CHECK(!c.weights.empty(), "eval needs --weights CHECKPOINT");
  c.resume.clear();
  Trainer t(c, false);
  // Say what is evaluated: a --test-subset stored in the checkpoint's run config applies silently otherwise.
  const data::Dataset& test = *t.loaders().test_set.dataset;
  std::string subset = c.test_subset > 0 && c.test_subset < test.size()
                           ? fmt::format(", the first {} images (--test-subset {}{})", c.test_subset, c.test_subset,
                                         flag_given(st, "test_subset") ? "" : ", from the checkpoint's run config")
                           : "";
  fmt::print("eval {} ({}, quantization {}) on {}{}\n", c.weights, c.arch, c.quant, test.describe(), subset);
  std::vector<Tensor> logits, inputs;
  t.evaluate([&](const Tensor& x, const Tensor& y) {
    if (!out.logits.empty()) logits.push_back(y.to(Device::cpu).contiguous());
    if (!out.inputs.empty()) inputs.push_back(x.to(Device::cpu).contiguous());
  });
  if (!out.logits.empty()) save_npy(out.logits, cat(logits, 0));
  if (!out.inputs.empty()) save_npy(out.inputs, cat(inputs, 0));
  for (const std::string* path : {&out.logits, &out.inputs})
    if (!path->empty()) fmt::print("wrote {}\n", *path);
  return 0;
}

}  // namespace

void add_train_commands(CLI::App& app, int& exit_code) {
  auto train_state = std::make_shared<CliState>();
  auto* train = app.add_subcommand("train", "Train a model (FP32 or a shift network) and evaluate it every epoch");
  add_run_options(train, *train_state);
  add_data_positional(train, *train_state);
  train->add_flag("-e,--evaluate", train_state->evaluate, "Only evaluate the model given by --weights or --resume");
  train->callback([train_state, &exit_code] { exit_code = run_train(*train_state); });

  auto eval_state = std::make_shared<CliState>();
  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint on the test split (its run config is reused)");
  add_run_options(eval, *eval_state, eval_keys());
  add_data_positional(eval, *eval_state);
  auto out = std::make_shared<EvalOutputs>();
  eval->add_option("--deploy", out->deploy_model,
                   "Evaluate this deploy model (shiftlab export) on the integer runtime instead of a checkpoint");
  eval->add_option("--save-logits", out->logits, "Write the logits of the evaluated images (N x classes, f32) to this .npy");
  eval->add_option("--save-inputs", out->inputs,
                   "Write the evaluated images as the model took them (N x C x H x W, f32, normalised) to this .npy");
  eval->callback([eval_state, out, &exit_code] { exit_code = run_eval(*eval_state, *out); });
}

}  // namespace sl::tools
