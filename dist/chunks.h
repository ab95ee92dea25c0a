// How the rank-ordered all-reduce splits a buffer of n elements (docs/distributed.md): rank r owns
// elements [displs[r], displs[r] + counts[r]), receives every rank's copy of them (recv_counts /
// recv_displs: `mine` each, in rank order), adds the copies in rank order, and the owned chunks are
// gathered back. Shared by the host path and the device paths so they split identically.
#pragma once
#include <cstdint>
#include <vector>

namespace sl::dist {

struct Chunks {
  std::vector<int> counts, displs, recv_counts, recv_displs;
  int mine = 0;  // counts[rank]
};

// n must fit an int per chunk (callers go in pieces of at most 2^26 elements).
inline Chunks split_into_chunks(int64_t n, int ranks, int rank) {
  Chunks c;
  const auto size = static_cast<size_t>(ranks);
  c.counts.resize(size);
  c.displs.resize(size);
  for (int r = 0; r < ranks; ++r) {
    const int64_t lo = n * r / ranks, hi = n * (r + 1) / ranks;
    c.counts[static_cast<size_t>(r)] = static_cast<int>(hi - lo);
    c.displs[static_cast<size_t>(r)] = static_cast<int>(lo);
  }
  c.mine = c.counts[static_cast<size_t>(rank)];
  c.recv_counts.assign(size, c.mine);
  c.recv_displs.resize(size);
  for (size_t q = 0; q < size; ++q) c.recv_displs[q] = static_cast<int>(q) * c.mine;
  return c;
}

// The pieces a long buffer goes in (MPI counts are int; each element's order of additions is unchanged).
constexpr int64_t kAllReducePiece = int64_t{1} << 26;

}  // namespace sl::dist
