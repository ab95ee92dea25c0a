#include "tools/did_you_mean.h"

#include <fmt/format.h>

#include <algorithm>

namespace sl::tools {

namespace {

// Edit distance counting a swap of neighbours as one edit (optimal string alignment): "trian" is
// one edit from "train".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// Every long name ("--epochs") and short name ("-a") a command accepts.
std::vector<std::string> flag_names(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : cmd.get_options()) {
    for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

}  // namespace

std::string closest_word(const std::string& word, const std::vector<std::string>& candidates) {
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3), best_d = limit + 1;
  std::string best;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string did_you_mean(const CLI::App& app, int argc, const char* const* argv) {
  // The innermost subcommand the command line names (`bench train`), and where its arguments start.
  const CLI::App* cmd = &app;
  int first = 1;
  for (; first < argc; ++first) {
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : cmd->get_subcommands({})) if (s->get_name() == argv[first]) sub = s;
    if (!sub) break;
    cmd = sub;
  }
  if (cmd == &app && first < argc && argv[first][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* s : app.get_subcommands({})) names.push_back(s->get_name());
    std::string hint = closest_word(argv[first], names);
    return hint.empty() ? "" : fmt::format("unknown subcommand '{}'; did you mean '{}'?", argv[first], hint);
  }
  std::vector<std::string> known = flag_names(*cmd);
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") continue;
    if (arg[1] != '-' && arg.size() > 2) arg = arg.substr(0, 2);  // -b64
    arg = arg.substr(0, arg.find('='));
    if (std::find(known.begin(), known.end(), arg) != known.end()) continue;
    std::string hint = closest_word(arg, known);
    if (!hint.empty())
      return fmt::format("unknown option '{}' for '{}'; did you mean '{}'?", arg, cmd->get_name(), hint);
  }
  return "";
}

}  // namespace sl::tools
