// The table of quantizer families (quant/families.h): one line per family, its entry built in
// quant/families/<family>.cpp.
#include "quant/families.h"

#include <fmt/format.h>

#include "engine/error.h"

namespace sl {

QuantFamily deepshift_q_family();
QuantFamily deepshift_ps_family();
QuantFamily apot_family();
QuantFamily uniform_family();
QuantFamily s3_family();
QuantFamily denseshift_family();

const std::vector<QuantFamily>& quant_families() {
  static const std::vector<QuantFamily> table = {
      deepshift_q_family(), deepshift_ps_family(), apot_family(), uniform_family(), s3_family(), denseshift_family(),
  };
  return table;
}

const QuantFamily* find_quant_family(const std::string& name) {
  for (const QuantFamily& f : quant_families())
    if (f.name == name) return &f;
  return nullptr;
}

const QuantFamily& quant_family(const std::string& name) {
  const QuantFamily* f = find_quant_family(name);
  SL_CHECK(f, "unknown quant method '{}' ({})", name, quant_method_list());
  return *f;
}

const std::vector<std::string>& quant_method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n{"none"};
    for (const QuantFamily& f : quant_families()) n.push_back(f.name);
    return n;
  }();
  return names;
}

std::string quant_method_list() { return fmt::format("{}", fmt::join(quant_method_names(), ", ")); }

std::string default_bits_list() {
  std::vector<std::string> parts;
  for (const QuantFamily& f : quant_families()) parts.push_back(fmt::format("{} {}", f.name, f.default_bits));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace sl
