#include "train/setup.h"

#include "dist/communicator.h"
#include "export/torch_export.h"
#include "train/checkpoint.h"

namespace sl {

QuantConfig quant_config(const RunConfig& r) {
  QuantConfig q;
  q.method = r.quant;
  q.weight_bits = r.weight_bits;
  q.act_bits = r.act_bits;
  q.depth = r.quant_depth;
  q.order = r.quant_order;
  q.first_last = r.first_last;
  q.scale = r.quant_scale;
  q.rounding = r.rounding;
  q.apot_flavour = r.apot_flavour;
  q.s3_init = r.s3_init;
  q.freeze_sign = r.lr_sign == 0;
  return q;
}

ModelOptions model_options_for(const RunConfig& c, const data::DatasetInfo& d) {
  ModelOptions o;
  // An image folder may hold some of the model's classes (a few ImageNet classes for a 1000-class model).
  bool fits = c.num_classes == 0 || d.num_classes == 0 || c.num_classes == d.num_classes ||
              (d.name == "imagefolder" && c.num_classes > d.num_classes);
  SL_CHECK(fits, "num_classes (--num-classes) is {} but dataset {} has {} classes", c.num_classes, d.name, d.num_classes);
  o.num_classes = c.num_classes > 0 ? c.num_classes : d.num_classes;
  SL_CHECK(o.num_classes > 0,
           "dataset {}: the number of classes is not known without its folder; give --num-classes N (or --data DIR)",
           d.name);
  o.in_channels = d.image_shape.at(0);
  SL_CHECK(d.image_shape.at(1) == d.image_shape.at(2), "dataset {} has non-square images {}", d.name,
           shape_str(d.image_shape));
  SL_CHECK(c.image_size == 0 || d.name == "imagefolder" || c.image_size == d.image_shape.at(1),
           "image_size (--image-size) is {} but dataset {} has {}x{} images (only image folders are cropped to a "
           "chosen size)",
           c.image_size, d.name, d.image_shape.at(1), d.image_shape.at(2));
  o.image_size = c.image_size > 0 ? c.image_size : d.image_shape.at(1);
  o.shortcut = c.shortcut;
  o.expansion = c.expansion;
  o.shift_kernel = c.shift_kernel;
  o.reduction = c.reduction;
  o.reduction_mode = c.reduction_mode;
  return o;
}

BuiltModel build_model(const RunConfig& c, const data::DatasetInfo& dataset) {
  manual_seed(c.seed);
  BuiltModel b;
  ModelOptions options = model_options_for(c, dataset);
  try {
    b.model = make_model(c.arch, options);
  } catch (const Error& e) {
    // The two usual mix-ups of CIFAR and ImageNet models: say which model was meant.
    if (c.arch == "resnet18" && options.image_size >= 64)
      fail("{} (resnet18 is DeepShift's CIFAR ResNet-18; for ImageNet-sized inputs use -a imagenet-resnet18, "
           "torchvision's layout)",
           e.what());
    if (model_info(c.arch).dataset == "imagenet" && options.image_size < 64)
      fail("{} (dataset {} gives {}x{} images; an ImageNet model takes --dataset imagefolder --data DIR, or "
           "--dataset imagefolder --num-classes N --epochs 0 for an initial checkpoint)",
           e.what(), dataset.name, options.image_size, options.image_size);
    throw;
  }
  Checkpoint weights;
  bool after = false;
  if (!c.weights.empty()) {
    weights = load_checkpoint(c.weights);
    // shiftlab export --format torch: the reference's names back to the model's.
    if (weights.metadata.count("shiftlab_reference")) rename_from_torch(weights.model, *b.model, c.arch, c.reduction);
    if (weights.config.contains("arch") && weights.config["arch"].is_string()) {
      std::string arch = weights.config["arch"].get<std::string>();
      SL_CHECK(arch == c.arch, "{}: the checkpoint holds a {} model, not {} (--arch)", c.weights, arch, c.arch);
    }
    NamedTensors fp32 = b.model->state_dict();
    bool fp32_match = fp32.size() == weights.model.size();
    for (auto& kv : fp32) fp32_match = fp32_match && weights.model.count(kv.first);
    if (fp32_match) {
      load_model_state(*b.model, weights, c.weights);  // DeepShift's --weights: before conversion
    } else {
      after = true;  // a quantized checkpoint: it must be of the family this run converts to
      // Any other --quant would only fail later on missing tensors: name the checkpoint's family (an
      // FP32 checkpoint whose names differ gets load_model_state's list of them instead).
      if (weights.config.contains("quant") && weights.config["quant"].is_string()) {
        std::string quant = weights.config["quant"].get<std::string>();
        SL_CHECK(quant == c.quant || quant == "none",
                 "{}: the checkpoint holds a {} model; pass --quant {} (and its options) to load it, not --quant {}",
                 c.weights, quant, quant, c.quant);
      }
    }
  }
  Generator gen(c.seed * 0x9E3779B97F4A7C15ull + 1);  // latents of S3 / DenseShift
  b.quantization = quantize_model(*b.model, quant_config(c), gen);
  if (after) load_model_state(*b.model, weights, c.weights);  // a quantized checkpoint of this model
  return b;
}

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

OptimizerOptions optimizer_options(const RunConfig& c) {
  OptimizerOptions o;
  if (c.optimizer == "sgd") o = OptimizerOptions::sgd(c.lr).momentum(c.momentum).nesterov(c.nesterov);
  else if (c.optimizer == "adam") o = OptimizerOptions::adam(c.lr);
  else if (c.optimizer == "adamw") o = OptimizerOptions::adamw(c.lr);
  else if (c.optimizer == "radam") o = OptimizerOptions::radam(c.lr);
  else if (c.optimizer == "ranger") o = OptimizerOptions::ranger(c.lr);
  else fail("unknown optimizer '{}' (sgd, adam, adamw, radam, ranger)", c.optimizer);
  return o.weight_decay(c.weight_decay);
}
}  // namespace

std::vector<ParamGroup> param_groups(const Module& model, const RunConfig& c) {
  OptimizerOptions base = optimizer_options(c);
  // No decay on BN, biases and quantizer scales unless --wd-all; with no decay at all, one group
  // (the layout of checkpoints written before the split).
  bool split_decay = c.weight_decay > 0 && !c.wd_all;
  NamePredicate no_decay = split_decay ? no_weight_decay(model) : NamePredicate([](const std::string&) { return false; });
  ParamGroup rest{{}, base}, undecayed{{}, OptimizerOptions(base).weight_decay(0)};
  // The family's latents in groups of their own (DeepShift-PS: signs at --lr-sign, shifts), no decay.
  const QuantFamily* family = find_quant_family(c.quant);
  std::vector<LatentGroup> rules = family ? family->latent_groups : std::vector<LatentGroup>{};
  std::vector<ParamGroup> latent;
  for (const LatentGroup& r : rules)
    latent.push_back({{}, OptimizerOptions(base).lr(r.lr_sign && c.lr_sign >= 0 ? c.lr_sign : c.lr).weight_decay(0)});
  for (auto& kv : model.named_parameters()) {
    size_t k = 0;
    while (k < rules.size() && !ends_with(kv.first, "." + rules[k].suffix)) ++k;
    if (k < rules.size()) latent[k].params.push_back(kv);
    else if (no_decay(kv.first)) undecayed.params.push_back(kv);
    else rest.params.push_back(kv);
  }
  std::vector<ParamGroup> groups;
  if (!rest.params.empty()) groups.push_back(rest);
  for (const ParamGroup& g : latent)
    if (!g.params.empty()) groups.push_back(g);
  if (!undecayed.params.empty()) groups.push_back(undecayed);
  return groups;
}

std::unique_ptr<Optimizer> build_optimizer(const Module& model, const RunConfig& c) {
  return make_optimizer(c.optimizer, param_groups(model, c));
}

std::shared_ptr<LRSchedule> build_schedule(const RunConfig& c) {
  std::shared_ptr<LRSchedule> s;
  if (c.lr_schedule == "none") s = std::make_shared<ConstantLR>();
  else if (c.lr_schedule == "step") s = std::make_shared<StepLR>(c.lr_step_size, c.lr_gamma);
  else if (c.lr_schedule == "multistep") s = std::make_shared<MultiStepLR>(c.lr_milestones, c.lr_gamma);
  else if (c.lr_schedule == "cosine")
    s = std::make_shared<CosineAnnealingLR>(std::max<int64_t>(1, c.epochs - c.warmup_epochs), c.lr_min);
  else if (c.lr_schedule == "exponential") s = std::make_shared<ExponentialLR>(c.lr_gamma);
  else fail("unknown lr_schedule '{}' (none, step, multistep, cosine, exponential)", c.lr_schedule);
  if (c.warmup_epochs > 0) s = std::make_shared<LinearWarmup>(s, c.warmup_epochs);
  return s;
}

double regularization_weight(const RunConfig& c) {
  const QuantFamily* family = find_quant_family(c.quant);
  if (!family || !family->default_reg_weight) return 0;  // no regulariser
  return c.reg >= 0 ? c.reg : family->default_reg_weight(c.weight_decay);
}

Loaders build_loaders(const RunConfig& c, bool train) {
  Loaders l;
  data::LoaderOptions test_opts;
  test_opts.batch_size = c.test_batch_size;
  test_opts.shuffle = false;
  test_opts.seed = c.seed;
  test_opts.workers = c.workers;
  test_opts.subset = c.test_subset;
  // Data-parallel runs: each rank loads its share of every global batch (docs/distributed.md).
  test_opts.shard_rank = dist::world().rank();
  test_opts.shard_count = dist::world().size();
  test_opts.allow_empty_shards = true;
  data::DatasetOptions dataset_opts;
  dataset_opts.image_size = c.image_size;
  l.test_set = data::make_dataset(c.dataset, c.data, false, dataset_opts);
  l.test = std::make_unique<data::DataLoader>(l.test_set.dataset, l.test_set.transform, test_opts);
  if (train) {
    data::LoaderOptions o = test_opts;
    o.batch_size = c.batch_size;
    o.shuffle = true;
    o.subset = c.subset;
    o.allow_empty_shards = false;
    SL_CHECK(c.batch_size >= o.shard_count, "batch size (--batch-size) {} is smaller than the {} ranks; it is the global "
             "batch, split across them", c.batch_size, o.shard_count);
    l.train_set = data::make_dataset(c.dataset, c.data, true, dataset_opts);
    l.train = std::make_unique<data::DataLoader>(l.train_set.dataset, l.train_set.transform, o);
  }
  return l;
}

}  // namespace sl
