#include "train/checkpoint.h"

#include <cmath>

#include "engine/factory.h"
#include "engine/json_guard.h"
#include "train/lr_schedule.h"
#include "train/model_match.h"
#include "train/optimizer.h"

namespace sl {

namespace {
const char* const kFormat = "shiftlab-checkpoint";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

Tensor scalar_i64(int64_t v) {
  Tensor t = Tensor::empty({}, DType::i64);
  t.data<int64_t>()[0] = v;
  return t;
}
Tensor scalar_f64(double v) { return scalar_tensor(v, DType::f64); }

const std::pair<const char*, double TrainerState::*> kDoubles[] = {
    {"trainer.best_acc1", &TrainerState::best_acc1},
    {"trainer.loss_sum", &TrainerState::loss_sum},
    {"trainer.correct", &TrainerState::correct},
    {"trainer.seen", &TrainerState::seen},
};
const std::pair<const char*, int64_t TrainerState::*> kInts[] = {
    {"trainer.epoch", &TrainerState::epoch},
    {"trainer.batch", &TrainerState::batch},
};
}  // namespace

void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const LRScheduler* scheduler, const TrainerState* state, const nlohmann::json& config) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& kv : model.state_dict()) tensors.emplace_back(kv.first, kv.second);
  if (optimizer)
    for (auto& kv : optimizer->state_dict()) tensors.emplace_back(kv.first, kv.second);
  if (scheduler)
    for (auto& kv : scheduler->state_dict()) tensors.emplace_back(kv.first, kv.second);
  if (state) {
    for (const auto& [name, member] : kInts) tensors.emplace_back(name, scalar_i64(state->*member));
    for (const auto& [name, member] : kDoubles) tensors.emplace_back(name, scalar_f64(state->*member));
    // Philox seed and offset are 64-bit counters; stored bit-for-bit in i64.
    tensors.emplace_back("trainer.rng_seed", scalar_i64(static_cast<int64_t>(state->rng_seed)));
    tensors.emplace_back("trainer.rng_offset", scalar_i64(static_cast<int64_t>(state->rng_offset)));
    if (!state->rank_rng_offsets.empty()) {
      std::vector<int64_t> offsets(state->rank_rng_offsets.begin(), state->rank_rng_offsets.end());
      const auto ranks = static_cast<int64_t>(offsets.size());
      tensors.emplace_back("trainer.rank_rng_offsets", from_vector(offsets, {ranks}));
    }
  }
  Metadata meta{{"format", kFormat}, {"config", config.dump()}};
  save_safetensors(path, tensors, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsContent content = load_safetensors(path);
  Checkpoint c;
  c.metadata = content.metadata;
  auto it = content.metadata.find("config");
  if (it != content.metadata.end()) {
    check_json_depth(it->second, 4, path + ": the run config in the metadata");
    try {
      c.config = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: the run config in the metadata is not valid JSON: {}", path, e.what());
    }
    SL_CHECK(c.config.is_object(), "{}: the run config in the metadata is not a JSON object", path);
  }
  std::map<std::string, Tensor> trainer;
  for (auto& [name, t] : content.tensors) {
    if (starts_with(name, "optimizer.")) c.optimizer[name] = t;
    else if (starts_with(name, "scheduler.")) c.scheduler[name] = t;
    else if (starts_with(name, "trainer.")) trainer[name] = t;
    else c.model[name] = t;
  }
  auto scalar = [&](const std::string& key) -> double {
    auto f = trainer.find(key);
    SL_CHECK(f != trainer.end(), "{}: trainer state '{}' is missing", path, key);
    SL_CHECK(f->second.numel() == 1, "{}: trainer state '{}' must be a scalar", path, key);
    return f->second.item();
  };
  if (!trainer.empty()) {
    c.has_trainer_state = true;
    for (const auto& [name, member] : kInts) {
      double v = scalar(name);
      SL_CHECK(v >= 0 && v <= 1e15 && v == std::floor(v), "{}: trainer state '{}' = {} is not a valid count", path,
               name, v);
      c.trainer.*member = static_cast<int64_t>(v);
    }
    for (const auto& [name, member] : kDoubles) c.trainer.*member = scalar(name);
    auto raw = [&](const char* key) {
      scalar(key);  // presence and shape
      const Tensor& t = trainer.at(key);
      SL_CHECK(t.dtype() == DType::i64, "{}: trainer state '{}' must be i64", path, key);
      return static_cast<uint64_t>(t.data<int64_t>()[0]);
    };
    c.trainer.rng_seed = raw("trainer.rng_seed");
    c.trainer.rng_offset = raw("trainer.rng_offset");
    auto ranks = trainer.find("trainer.rank_rng_offsets");
    if (ranks != trainer.end()) {
      const Tensor& t = ranks->second;
      SL_CHECK(t.dtype() == DType::i64 && t.dim() == 1 && t.numel() >= 1 && t.numel() <= (int64_t{1} << 20),
               "{}: trainer state 'trainer.rank_rng_offsets' must be an i64 vector of one offset per rank", path);
      for (int64_t v : t.to_vector<int64_t>()) c.trainer.rank_rng_offsets.push_back(static_cast<uint64_t>(v));
    }
  }
  return c;
}

void load_model_state(Module& model, const Checkpoint& ckpt, const std::string& path) {
  try {
    model.load_state_dict(ckpt.model, true);
  } catch (const Error& e) {
    // Name every key that does not fit, as PyTorch's strict load_state_dict does.
    std::string mismatch = describe_key_mismatch(model, ckpt.model);
    fail("{}: {}", path, mismatch.empty() ? std::string(e.what()) : "the tensors do not fit the model: " + mismatch);
  }
}

}  // namespace sl
