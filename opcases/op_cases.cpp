#include <set>

#include "engine/error.h"
#include "opcases/builders.h"

namespace sl::opcases {

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> table = [] {
    std::vector<OpCase> t;
    add_elementwise_cases(t);
    add_matmul_conv_cases(t);
    add_nn_cases(t);
    add_quant_cases(t);
    std::set<std::string> names;
    for (const OpCase& c : t) SL_CHECK(names.insert(c.name).second, "op-case table: the name '{}' is used twice", c.name);
    return t;
  }();
  return table;
}

}  // namespace sl::opcases
