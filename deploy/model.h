// The deploy model: what `shiftlab export` writes and the inference runtime reads. A graph of integer
// ops over uint8 NHWC tensors (real = scale * (q - zero_point)), stored as a safetensors file whose
// metadata holds the graph (JSON) and whose tensors hold each conv's packed weight codes, its level
// table and its folded scale and bias. Fully connected layers are convolutions whose kernel covers
// the whole input (so flatten needs no op of its own).
//
// File layout (safetensors, all little-endian):
//   metadata "format" = "shiftlab-deploy", "version" = "1", "graph" = JSON (see model.cpp),
//   "config" = the training run's config (JSON text, for `eval --deploy`);
//   per conv named N: N.codes (U8: code_bits-bit indices into N.levels, weight order [cout][ky][kx][cin],
//   packed from the low bits of each byte), N.levels (I8: the integer weight of each code),
//   N.out_scale and N.bias (F32 [cout]: y = out_scale * input_scale * sum(w * (q - zp)) + bias, batch
//   norm and the weight scale folded in), N.shift (I8 [cin][2], optional: per input channel (dy, dx)),
//   N.input_map (U8 [256], optional: the activation quantiser, input code -> code on the conv's grid).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sl::deploy {

struct TensorSpec {
  int64_t h = 0, w = 0, c = 0;  // per image (NHWC)
  float scale = 1;
  int32_t zero_point = 0;
  bool f32 = false;             // float logits (the graph output); uint8 otherwise
};

struct ConvSpec {
  std::string name;             // the layer's name in the trained model ("layer1.0.conv2")
  std::string weight_format;    // e.g. "deepshift-ps 5-bit", "apot 4-bit", "8-bit"
  int input = 0, output = 0;    // tensor ids
  int64_t kh = 1, kw = 1, stride = 1, pad = 0, cin = 0, cout = 0;
  std::vector<int8_t> weights;  // [cout][kh][kw][cin]
  std::vector<int8_t> levels;   // the integer weights the codes index, ascending
  int code_bits = 8;            // 2, 4 or 8
  std::vector<float> out_scale, bias;
  std::vector<int8_t> shift;    // [cin][2] (dy, dx) or empty
  // The layer's own activation quantiser (APoT's clipped levels, DeepShift's fixed point) as a map
  // from the input tensor's codes to codes on the grid (input_scale, input_zero_point) the product
  // uses; empty when the layer reads its input as it is.
  std::vector<uint8_t> input_map;
  float input_scale = 1;
  int32_t input_zero_point = 0;
  bool relu = false;
  int residual = -1;            // tensor id added after the ReLU, or -1
  int64_t residual_stride = 1, residual_channel_offset = 0;
  bool relu_after_add = false;
};

enum class PoolKind { max, global_avg };

// Max pooling over kernel x kernel windows (PyTorch's MaxPool2d: padding never wins the max), or
// global average pooling (kernel, stride and pad unused).
struct PoolSpec {
  PoolKind kind = PoolKind::max;
  int input = 0, output = 0;
  int64_t kernel = 2, stride = 2, pad = 0;
};

struct Op {
  enum class Kind { conv, pool } kind = Kind::conv;
  size_t index = 0;  // into convs / pools
};

struct Graph {
  int64_t in_c = 0, in_h = 0, in_w = 0;  // the float NCHW image the model takes
  std::vector<TensorSpec> tensors;      // tensor 0 is the quantised input
  std::vector<ConvSpec> convs;
  std::vector<PoolSpec> pools;
  std::vector<Op> ops;                  // in execution order
  int output = 0;
  std::map<std::string, std::string> metadata;  // extra metadata entries (the run config, ...)
};

// Throws sl::Error naming what is inconsistent (tensor ids, shapes, weight counts, codes
// outside the level table, ...). load_model calls it; export calls it before writing.
void validate(const Graph& g);

// Codes: the smallest of 2, 4 or 8 bits that indexes `levels`.
int code_bits_for(size_t levels);

// Writes atomically (temp file + rename). Throws sl::Error naming the file.
void save_model(const std::string& path, const Graph& g);
// Throws sl::Error naming the file and what is wrong (not a deploy model, truncated, bad
// header, inconsistent graph).
Graph load_model(const std::string& path);

}  // namespace sl::deploy
