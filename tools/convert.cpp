// `shiftlab convert`: an FP32 checkpoint (or a quantized one of the same family, e.g. APoT's
// progressive 4 -> 3 -> 2-bit chain) becomes a quantized model initialised from it, saved as a
// model-only checkpoint for `train --weights`. DeepShift-PS takes P = round(log2|W|), S = sign(W).
#include <fmt/format.h>

#include "data/registry.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "train/checkpoint.h"
#include "train/setup.h"

namespace sl::tools {

namespace {
void run_convert(const CliState& st, const std::string& output) {
  RunConfig c = resolve(st, "weights");
  SL_CHECK(!c.weights.empty(), "convert needs --weights CHECKPOINT (the model to convert)");
  SL_CHECK(!output.empty(), "convert needs --output FILE.safetensors");
  SL_CHECK(c.quant != "none", "convert needs --quant (deepshift-q, deepshift-ps, apot, uniform, s3, denseshift)");
  BuiltModel b = build_model(c, data::dataset_info(c.dataset));
  RunConfig stored = c;
  stored.weights.clear();  // the new file is self-contained
  save_checkpoint(output, *b.model, nullptr, nullptr, nullptr, to_json(stored));
  fmt::print("{}: {} model, quantization: {}\n", output, c.arch, b.quantization.summary());
}
}  // namespace

void add_convert_command(CLI::App& app) {
  auto st = std::make_shared<CliState>();
  auto output = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("convert", "Turn a checkpoint into a quantized model initialised from it");
  add_run_options(cmd, *st, convert_keys());
  cmd->add_option("-o,--output", *output, "The converted checkpoint to write")->required();
  cmd->callback([st, output] { run_convert(*st, *output); });
}

}  // namespace sl::tools
