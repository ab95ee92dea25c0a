// The shift-network inference runtime: loads a deploy model (`shiftlab export`) and runs batches of
// images through its integer kernels. A library of its own (shiftlab_deploy): no autograd, optimizer
// or training code; it needs oneTBB, Highway, fmt and nlohmann_json only.
//
//   sl::deploy::InferenceModel model = sl::deploy::InferenceModel::load("model.deploy.safetensors");
//   std::vector<float> logits = model.run(images.data(), batch);  // images: float NCHW, normalised
//                                                                 // as for training
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deploy/kernels/kernels.h"
#include "deploy/model.h"

namespace sl::deploy {

// Which 3x3 stride-1 convs run as integer Winograd F(2x2, 3x3) on the targets that have it
// (DeployKernels::conv_winograd): those where it pays (winograd_pays, the default), every one it can
// take (tests, measurements), or none. The outputs are the same bit for bit in every mode, so this
// trades speed only (`bench infer --winograd on all off`). Returns the previous mode.
enum class WinogradMode { off, on, all };
WinogradMode set_deploy_winograd(WinogradMode mode);
WinogradMode deploy_winograd();

class InferenceModel {
 public:
  // Throws sl::Error naming the file and what is wrong.
  static InferenceModel load(const std::string& path);
  explicit InferenceModel(Graph graph);
  InferenceModel(InferenceModel&&) noexcept;
  InferenceModel& operator=(InferenceModel&&) noexcept;
  ~InferenceModel();

  // The float NCHW image one batch row is (c, h, w), and the number of outputs per image.
  int64_t input_channels() const { return graph_.in_c; }
  int64_t input_height() const { return graph_.in_h; }
  int64_t input_width() const { return graph_.in_w; }
  int64_t num_outputs() const;
  const Graph& graph() const { return graph_; }

  // images: n float images [n, c, h, w]; logits: [n, num_outputs()]. Not reentrant: one call at a
  // time per model (the activation buffers are the model's).
  void run(const float* images, int64_t n, float* logits);
  std::vector<float> run(const float* images, int64_t n);

  // Per-op wall time of the runs since profiling was last switched on (kept when it is switched off):
  // {"conv1 (conv 5x5, 1->20)", seconds}, the input quantisation last.
  void set_profiling(bool on);
  std::vector<std::pair<std::string, double>> profile() const;

  // The uint8 NHWC codes of tensor `id` after the last run, without the channel padding (tests
  // compare the kernels with the reference through it).
  std::vector<uint8_t> tensor_codes(int id) const;

 private:
  struct PreparedConv;
  void run_conv(const ConvSpec& spec, PreparedConv& prep, int64_t n, float* logits);
  void run_pool(const PoolSpec& spec, int64_t n);
  // Tensor `id` as stored for a batch of n, and its buffer sized (frame filled) for writing.
  QTensorView view(int id, int64_t n) const;
  uint8_t* output_buffer(int id, int64_t n);

  Graph graph_;
  std::vector<std::unique_ptr<PreparedConv>> prepared_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<int64_t> borders_;  // per tensor: its frame of zero points, in pixels
  bool profiling_ = false;
  std::vector<double> op_seconds_;  // per op of graph_.ops, plus the input quantisation last
};

}  // namespace sl::deploy
