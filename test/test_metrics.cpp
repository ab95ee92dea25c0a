// top-k accuracy, AverageMeter, and the cross-entropy loss (with label smoothing) against torch.
#include "train/metrics.h"
#include "zoo_helpers.h"

using namespace sl;
using sl::test::error_of;

TEST_CASE("topk_correct counts labels among the k best scores", "[metrics]") {
  Tensor logits = from_vector<float>({2.0f, -1.0f, 0.5f, 0.0f,  // label 0: top-1
                                      0.1f, 0.2f, 0.3f, 0.4f,   // label 3: top-1
                                      -3.0f, 1.0f, 0.5f, 2.5f,  // label 1: second -> top-2
                                      0.0f, 3.0f, 2.0f, 1.0f},  // label 0: last -> top-4 only
                                     {4, 4});
  Tensor labels = from_vector<int32_t>({0, 3, 1, 0});
  CHECK(topk_correct(logits, labels, 1) == 2);
  CHECK(topk_correct(logits, labels, 2) == 3);
  CHECK(topk_correct(logits, labels, 3) == 3);
  CHECK(topk_correct(logits, labels, 4) == 4);
  CHECK(topk_correct(logits, from_vector<int64_t>({0, 3, 1, 0}), 2) == 3);  // i64 labels
  // Ties go to the lower class index, as argmax: all-equal scores are right only for class 0.
  Tensor flat = zeros({3, 5});
  CHECK(topk_correct(flat, from_vector<int32_t>({0, 1, 4}), 1) == 1);
  CHECK(topk_correct(flat, from_vector<int32_t>({0, 1, 4}), 2) == 2);
  CHECK(error_of([&] { topk_correct(logits, labels, 5); }).find("k must be in [1, 4]") != std::string::npos);
  CHECK(error_of([&] {
          topk_correct(logits, from_vector<int32_t>({0, 9, 1, 0}), 1);
        }).find("label 9 of row 1") != std::string::npos);
  CHECK(error_of([&] {
          topk_correct(logits, from_vector<int32_t>({0, 1}), 1);
        }).find("labels must be [4]") != std::string::npos);
}

TEST_CASE("AverageMeter weights values by their count", "[metrics]") {
  AverageMeter m("loss");
  CHECK(m.avg() == 0);
  m.update(2.0, 3);
  m.update(4.0, 1);
  CHECK(m.val() == 4.0);
  CHECK(m.count() == 4);
  CHECK(m.sum() == 10.0);
  CHECK(m.avg() == 2.5);
  m.reset();
  CHECK(m.count() == 0);
  CHECK(m.avg() == 0);
}

TEST_CASE("cross_entropy: mean over the batch, optional label smoothing, as torch.nn.functional", "[metrics]") {
  Tensor x = from_vector<float>({2.0f, -1.0f, 0.5f, 0.0f, 0.1f, 0.2f, 0.3f, 0.4f, -3.0f, 1.0f, 1.0f, 2.5f}, {3, 4});
  Tensor y = from_vector<int32_t>({0, 3, 1});
  // torch 1.13: F.cross_entropy(x, y) and F.cross_entropy(x, y, label_smoothing=0.1).
  CHECK(cross_entropy(x, y).item() == Approx(1.1522293090820312).epsilon(1e-6));
  CHECK(cross_entropy(x, y, 0.1).item() == Approx(1.2322293519973755).epsilon(1e-6));
}
