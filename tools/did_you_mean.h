// "did you mean" hints for mistyped subcommands and flags (`shiftlab trian`, `train --epoch 1`).
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace sl::tools {

// The candidate closest to `word` by edit distance, if it is within a third of the word's length
// (at least 1, at most 3); "" otherwise.
std::string closest_word(const std::string& word, const std::vector<std::string>& candidates);
// After a failed parse of argv: "unknown option '--epoch' for 'train'; did you mean '--epochs'?" for
// the first unknown flag of the innermost subcommand given, or the same for an unknown subcommand;
// "" when there is no close name.
std::string did_you_mean(const CLI::App& app, int argc, const char* const* argv);

}  // namespace sl::tools
