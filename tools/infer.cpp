// `shiftlab infer MODEL IMAGE...`: classifies image files with a deploy model on the integer runtime.
// Each image goes through the test-time transform of the dataset the model was trained on (its
// stored run config), after matching the model's channels (RGB <-> grey) and size (resize).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/image.h"
#include "data/registry.h"
#include "deploy/runtime.h"
#include "tools/commands.h"
#include "tools/run_options.h"
#include "train/run_config.h"

namespace sl::tools {

namespace {

// The model's channel count: grey from RGB(A) as the mean of R, G, B; RGB from grey by copying.
data::Image match_channels(const data::Image& src, int channels) {
  if (src.channels == channels) return src;
  data::Image out(src.height, src.width, channels);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x) {
      const uint8_t* p = src.ptr(y, x);
      const int grey = src.channels >= 3 ? (p[0] + p[1] + p[2] + 1) / 3 : p[0];
      uint8_t* q = out.ptr(y, x);
      for (int c = 0; c < channels; ++c) q[c] = static_cast<uint8_t>(channels == 1 || src.channels < 3 ? grey : p[c]);
    }
  return out;
}

void run_infer(const std::string& path, const std::vector<std::string>& images, int top) {
  deploy::InferenceModel model = deploy::InferenceModel::load(path);
  RunConfig config;
  const nlohmann::json stored = stored_run_config(model.graph().metadata, path);
  if (!stored.empty()) apply_json(config, stored, path + " (stored run config)");
  const data::Compose transform = data::default_transform(config.dataset, false);
  const auto c = static_cast<int>(model.input_channels()), h = static_cast<int>(model.input_height()),
             w = static_cast<int>(model.input_width());
  const int64_t classes = model.num_outputs();
  top = static_cast<int>(std::min<int64_t>(std::max(top, 1), classes));
  std::vector<float> x(static_cast<size_t>(c) * h * w);
  for (const std::string& file : images) {
    data::Image img = match_channels(data::read_image(file), c);
    if (img.height != h || img.width != w) img = data::resize(img, h, w);
    data::SampleRng rng(0, 0, 0);  // the test transform draws nothing
    transform.to_tensor(transform.augment(img, rng), x.data());
    const std::vector<float> logits = model.run(x.data(), 1);
    // Softmax probabilities, the largest first.
    const float max = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(static_cast<double>(logits[i] - max));
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    fmt::print("{}:", file);
    for (int k = 0; k < top; ++k) fmt::print(" class {} ({:.1f}%)", order[static_cast<size_t>(k)], 100 * p[order[static_cast<size_t>(k)]] / sum);
    fmt::print("\n");
  }
}

}  // namespace

void add_infer_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto images = std::make_shared<std::vector<std::string>>();
  auto top = std::make_shared<int>(1);
  auto* cmd = app.add_subcommand("infer", "Classify image files with a deploy model (shiftlab export) on the integer runtime");
  cmd->add_option("model", *model, "The deploy model")->required();
  cmd->add_option("images", *images, "Image files (PNG, JPEG, BMP, ...)")->required();
  cmd->add_option("--top", *top, "Classes to print per image, most probable first")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([model, images, top] { run_infer(*model, *images, *top); });
}

}  // namespace sl::tools
