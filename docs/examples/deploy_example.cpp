// Embedding the shiftlab inference runtime in a program of your own: link the `shiftlab_deploy`
// library (no training code), load a model written by `shiftlab export`, run a batch, read the
// logits. Built as `build/shiftlab_deploy_example`:
//
//   build/shiftlab_deploy_example model.deploy.safetensors
//
// It runs one batch of 4 mid-grey images (a real program fills `images` with its own data,
// normalised as the training run's dataset transform does) and prints each image's best class.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <vector>

#include "deploy/runtime.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors\n", argv[0]);
    return 2;
  }
  try {
    sl::deploy::InferenceModel model = sl::deploy::InferenceModel::load(argv[1]);
    const int64_t batch = 4;
    const int64_t per_image = model.input_channels() * model.input_height() * model.input_width();
    std::vector<float> images(static_cast<size_t>(batch * per_image), 0.0f);  // float NCHW
    std::vector<float> logits = model.run(images.data(), batch);               // [batch][classes]
    const int64_t classes = model.num_outputs();
    for (int64_t i = 0; i < batch; ++i) {
      const float* row = logits.data() + i * classes;
      std::printf("image %lld: class %lld\n", static_cast<long long>(i),
                  static_cast<long long>(std::max_element(row, row + classes) - row));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
