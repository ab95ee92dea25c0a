#include "backends/broadcast.h"

#include <vector>

#include "engine/error.h"

namespace sl {

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  size_t n = out.size();
  std::vector<int64_t> size(out.begin(), out.end()), sa(n, 0), sb(n, 0);
  auto fill_strides = [&](const Shape& in, std::vector<int64_t>& st) {
    int64_t s = 1;
    for (size_t i = in.size(); i-- > 0;) {
      size_t d = i + (n - in.size());
      st[d] = in[i] == 1 ? 0 : s;
      s *= in[i];
    }
  };
  fill_strides(a, sa);
  fill_strides(b, sb);
  // Drop size-1 dims, then merge d into d+1 when both strides are contiguous across the pair.
  std::vector<int64_t> ms, ma, mb;
  for (size_t d = 0; d < n; ++d) {
    if (size[d] == 1) continue;
    if (!ms.empty() && ma.back() == sa[d] * size[d] && mb.back() == sb[d] * size[d]) {
      ms.back() *= size[d];
      ma.back() = sa[d];
      mb.back() = sb[d];
    } else {
      ms.push_back(size[d]);
      ma.push_back(sa[d]);
      mb.push_back(sb[d]);
    }
  }
  BroadcastPlan p;
  SL_CHECK(ms.size() <= static_cast<size_t>(kMaxBroadcastDims),
           "broadcast: more than {} non-mergeable dimensions in shape {}", kMaxBroadcastDims, shape_str(out));
  p.ndim = static_cast<int>(ms.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.size[d] = ms[static_cast<size_t>(d)];
    p.stride_a[d] = ma[static_cast<size_t>(d)];
    p.stride_b[d] = mb[static_cast<size_t>(d)];
    p.numel *= p.size[d];
  }
  for (int64_t s : out) {
    if (s == 0) p.numel = 0;
  }
  return p;
}

}  // namespace sl
