// The quantizer-family registry (quant/families.h): every entry is whole and agrees with the
// quantizer it builds, the conversion and the standalone tool build the same family, and an unknown
// name is refused with the valid names.
#include <algorithm>

#include "helpers.h"
#include "layers/models/registry.h"
#include "layers/weight_layer.h"
#include "quant/convert.h"
#include "quant/families.h"

using namespace sl;
using sl::test::error_of;

TEST_CASE("every family entry is whole and names its quantizer", "[quant][families]") {
  std::vector<std::string> names = quant_method_names();
  REQUIRE(names.size() == quant_families().size() + 1);
  CHECK(names.front() == "none");
  for (const QuantFamily& f : quant_families()) {
    INFO(f.name);
    CHECK(std::count(names.begin(), names.end(), f.name) == 1);
    CHECK(f.min_bits >= 2);
    CHECK(f.min_bits <= f.default_bits);
    CHECK(f.default_bits <= f.max_bits);
    CHECK((f.first_last == "quantize" || f.first_last == "fp32" || f.first_last == "8bit"));
    CHECK(!f.bench_tag.empty());
    REQUIRE(f.shift_terms);
    REQUIRE(f.convert);
    REQUIRE(f.input_counts);
    REQUIRE(f.standalone);
    CHECK(&quant_family(f.name) == &f);
    // The tool's quantizer at every bit width: the family's own, with a level set of at most 2^bits levels.
    for (int bits = f.min_bits; bits <= f.max_bits; ++bits) {
      INFO(bits << " bits");
      StandaloneOptions o;
      o.bits = bits;
      StandaloneQuantizer s = f.standalone(o, {});
      REQUIRE(s.q);
      CHECK(s.q->method() == f.name);
      CHECK(s.q->bits() == bits);
      std::vector<double> levels = s.q->levels();
      CHECK(!levels.empty());
      CHECK(levels.size() <= (size_t{1} << bits));
      if (f.power_of_two_levels)
        for (double v : levels)
          if (v != 0) CHECK(std::exp2(std::round(std::log2(std::abs(v)))) == std::abs(v));
    }
  }
}

TEST_CASE("converting with a family attaches its quantizer at its default bits", "[quant][families]") {
  for (const QuantFamily& f : quant_families()) {
    INFO(f.name);
    Generator gen(3);
    auto model = make_model("mnist-conv", ModelOptions{10, 1, 28, "", ""});
    QuantConfig c;
    c.method = f.name;
    ConversionReport r = quantize_model(*model, c, gen);
    CHECK(r.quantized > 0);
    int found = 0;
    for (auto& [name, m] : model->named_modules()) {
      auto layer = std::dynamic_pointer_cast<WeightLayer>(m);
      if (!layer) continue;
      auto q = std::dynamic_pointer_cast<WeightQuantizer>(layer->weight_parametrization());
      if (!q || q->method() != f.name) continue;
      ++found;
      CHECK(q->bits() == f.default_bits);
    }
    CHECK(found == r.quantized);
    // Bits outside the family's range are refused naming the range.
    c.weight_bits = f.max_bits + 1;
    auto fresh = make_model("mnist-conv", ModelOptions{10, 1, 28, "", ""});
    CHECK(error_of([&] { quantize_model(*fresh, c, gen); })
              .find(fmt::format("{}: weight bits must be in [{}, {}]", f.name, f.min_bits, f.max_bits)) !=
          std::string::npos);
  }
}

TEST_CASE("an unknown family is refused with every valid name", "[quant][families]") {
  std::string m = error_of([] { quant_family("lsq"); });
  CHECK(m.find("unknown quant method 'lsq'") != std::string::npos);
  for (const std::string& name : quant_method_names()) CHECK(m.find(name) != std::string::npos);
  CHECK(find_quant_family("none") == nullptr);
}
