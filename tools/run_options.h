// The run options shared by `train`, `eval`, `convert` and `inspect`: every RunConfig key is a
// flag (`batch_size` -> `--batch-size`, plus the PyTorch example's and seed repos' spellings), and
// the resolved config is, in order: the defaults, the run config stored in a checkpoint (train:
// --resume; the others: --weights), the --config file, then the flags given.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "train/run_config.h"

namespace sl::tools {

struct CliState {
  RunConfig flags;  // values as parsed from the command line
  std::vector<std::pair<std::string, CLI::Option*>> options;
  std::string config_file;
  bool evaluate = false;
};

// Every RunConfig key as a flag (train), or only `keys` (eval, inspect, convert, export: the ones
// they use); --config accepts every key either way. Each help line shows the default.
void add_run_options(CLI::App* cmd, CliState& state, const std::vector<std::string>& keys = {});
// The PyTorch ImageNet example's positional DIR, the same as --data (giving both is an error).
void add_data_positional(CLI::App* cmd, CliState& state);
// The keys of eval / inspect / convert / export (add_run_options' `keys`).
const std::vector<std::string>& eval_keys();
const std::vector<std::string>& inspect_keys();
const std::vector<std::string>& convert_keys();
// checkpoint_key: "resume" or "weights", the key whose checkpoint supplies the stored run config;
// `checkpoint` (when not empty) is that checkpoint, given some other way (inspect's argument).
// A checkpoint without shiftlab metadata (a PyTorch state_dict) supplies the architecture: --arch
// when given, else the zoo model its tensors fit (train --weights too); its classes come from the
// classifier. An ImageNet architecture with no dataset given means --dataset imagefolder.
RunConfig resolve(const CliState& state, const std::string& checkpoint_key, const std::string& checkpoint = "");
// The same order with the stored run config given as JSON (a deploy model's "config" metadata);
// `source` names where it came from in errors.
RunConfig resolve_stored(const CliState& state, const nlohmann::json& stored, const std::string& source);
// The run config a deploy model stores in its metadata ("config"), checked: an empty object when there
// is none; throws naming `path` when it is nested too deep or is not JSON.
nlohmann::json stored_run_config(const std::map<std::string, std::string>& metadata, const std::string& path);

}  // namespace sl::tools
