// `shiftlab train` and `shiftlab eval` (flags and config resolution: tools/run_options.h).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>

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
