// `shiftlab export`: a trained checkpoint -> a deploy model for the inference runtime (deploy/):
// packed integer weight codes, folded batch norms, activations calibrated on training images. Prints
// each layer's code width and exactness, the file size and its ratio to the FP32 weights. With
// --format torch: a weights-only PyTorch state_dict instead (export/torch_export.h).
#include <fmt/format.h>

#include <filesystem>

#include "data/loader.h"
#include "deploy/model.h"
#include "export/exporter.h"
#include "engine/safetensors.h"
#include "export/torch_export.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "train/setup.h"

namespace sl::tools {

namespace {

// The first n images of the shuffled training split, with the test-time transform (no augmentation).
Tensor calibration_images(const RunConfig& c, int64_t n) {
  data::LoadedDataset train = data::make_dataset(c.dataset, c.data, true);
  data::LoadedDataset test = data::make_dataset(c.dataset, c.data, false);
  data::LoaderOptions o;
  o.batch_size = std::min<int64_t>(n, train.dataset->size());
  o.seed = c.seed;
  o.prefetch = false;
  data::DataLoader loader(train.dataset, test.transform, o);
  auto batch = loader.next();
  SL_CHECK(batch.has_value(), "export: the training split of {} is empty", c.dataset);
  return batch->images;
}

// --format torch: the effective weights under the PyTorch reference's names (export/torch_export.h).
void run_export_torch(const RunConfig& c, const BuiltModel& b, const std::string& output) {
  TorchStateDict sd = torch_state_dict(*b.model, c.arch, c.reduction);
  // The file's weights are effective FP32 ones: read back, it is an FP32 model of the same architecture.
  RunConfig stored = c;
  stored.weights.clear();
  stored.quant = "none";
  stored.weight_bits = 0;
  stored.act_bits.clear();
  save_safetensors(output, sd.tensors,
                   {{"format", "pt"}, {"shiftlab_reference", sd.reference}, {"shiftlab_arch", c.arch},
                    {"shiftlab_quantization", b.quantization.summary()}, {"config", to_json(stored).dump()}});
  fmt::print("{}: {} tensors, the effective weights of {} (quantization: {}) for {}\n", output, sd.tensors.size(), c.arch,
             b.quantization.summary(), sd.reference);
  if (sd.quantized_inputs > 0)
    fmt::print("note: {} layers quantize their inputs in shiftlab; a weights-only file cannot say so, and PyTorch runs "
               "them on float inputs\n",
               sd.quantized_inputs);
}

void run_export(const CliState& st, const std::string& output, int64_t calibration, const std::string& format) {
  RunConfig c = resolve(st, "weights");
  SL_CHECK(!c.weights.empty(), "export needs --weights CHECKPOINT (the trained model)");
  SL_CHECK(format == "deploy" || format == "torch", "export --format '{}' is not one of: deploy, torch", format);
  SL_CHECK(calibration > 0, "--calibration-images must be positive, got {}", calibration);
  c.device = "cpu";
  BuiltModel b = build_model(c, data::dataset_info(c.dataset));
  if (format == "torch") return run_export_torch(c, b, output);
  ExportResult r = export_model(*b.model, calibration_images(c, calibration));
  RunConfig stored = c;
  stored.weights.clear();
  r.graph.metadata["config"] = to_json(stored).dump();
  r.graph.metadata["source"] = std::filesystem::path(c.weights).filename().string();
  deploy::save_model(output, r.graph);

  fmt::print("{:<22} {:<20} {:>8} {:>7} {:>5}  {}\n", "layer", "weights", "count", "levels", "bits", "integer codes");
  int64_t params = 0;
  for (const ExportedLayer& l : r.layers) {
    std::string exact = l.rounded == 0 ? "exact"
                                       : fmt::format("{} rounded ({} to zero) in {} channels, max error {:.2g} of the channel max",
                                                     l.rounded, l.zeroed, l.inexact_channels, l.max_relative_error);
    fmt::print("{:<22} {:<20} {:>8} {:>7} {:>5}  {}\n", l.name, l.format, l.weights, l.levels, l.code_bits, exact);
    params += l.weights;
  }
  for (const auto& conv : r.graph.convs) params += 2 * conv.cout;  // scale and bias
  const auto size = static_cast<double>(std::filesystem::file_size(output));
  const auto ckpt = static_cast<double>(std::filesystem::file_size(c.weights));
  fmt::print("{}: {:.1f} KiB, {:.3f} of the FP32 weights ({:.1f} KiB), {:.3f} of the checkpoint ({:.1f} KiB); "
             "activations uint8, calibrated on {} training images\n",
             output, size / 1024, size / (4.0 * static_cast<double>(params)), 4.0 * static_cast<double>(params) / 1024,
             size / ckpt, ckpt / 1024, calibration);
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto st = std::make_shared<CliState>();
  auto output = std::make_shared<std::string>();
  auto calibration = std::make_shared<int64_t>(512);
  auto format = std::make_shared<std::string>("deploy");
  auto* cmd = app.add_subcommand("export",
                                 "Write a deploy model (integer codes) for `infer`, `eval --deploy` and `bench infer`, or "
                                 "(--format torch) a PyTorch state_dict of the effective weights");
  add_run_options(cmd, *st, convert_keys());
  cmd->add_option("-o,--output", *output, "The file to write (.safetensors)")->required();
  cmd->add_option("--format", *format,
                  "deploy: integer codes for shiftlab's runtime; torch: effective (quantized) float weights under the "
                  "PyTorch reference's names (docs/interop.md)")
      ->capture_default_str();
  cmd->add_option("--calibration-images", *calibration, "deploy: training images whose activation ranges set the uint8 scales")
      ->capture_default_str();
  cmd->callback([st, output, calibration, format] { run_export(*st, *output, *calibration, *format); });
}

}  // namespace sl::tools
