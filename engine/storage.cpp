#include "engine/storage.h"

#include "backends/backend.h"

namespace sl {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes > 0) data_ = backend(device).alloc(nbytes);
}

Storage::~Storage() {
  if (data_) backend(device_).free(data_);
}

}  // namespace sl
