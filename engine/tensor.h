// Tensor: a cheap shared handle to (shape, dtype, storage, offset) plus optional autograd state.
// Tensors are always contiguous row-major; a view (reshape, a slice of dim 0) shares storage at an
// offset, anything else is a copy. Methods that build new tensors from this one are differentiable
// and implemented with the ops in autograd/ (as LibTorch's Tensor methods sit on its dispatcher).
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace sl {

struct AutogradMeta;  // autograd/node.h

struct TensorImpl {
  Shape shape;
  DType dtype = DType::f32;
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;                      // in elements
  std::shared_ptr<AutogradMeta> autograd;  // null unless the tensor takes part in autograd
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  // Uninitialised memory of the given shape.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return checked().shape; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  void* raw_data();
  const void* raw_data() const;
  // Typed host pointer; throws unless dtype matches T and the tensor is on the CPU.
  template <class T>
  T* data() {
    check_access(DTypeOf<T>::value);
    return static_cast<T*>(raw_data());
  }
  template <class T>
  const T* data() const {
    check_access(DTypeOf<T>::value);
    return static_cast<const T*>(raw_data());
  }
  // Copies the elements to a host vector (from any device), converting to T.
  template <class T>
  std::vector<T> to_vector() const;
  // The single element as double (any dtype, any device); throws unless numel() == 1.
  double item() const;

  // ---- differentiable (autograd/ops/) ----
  Tensor reshape(const Shape& shape) const;  // one size may be -1
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor slice(int64_t start, int64_t end) const;  // rows [start, end) of dim 0, a view
  Tensor clone() const;                            // a copy
  Tensor contiguous() const { return *this; }      // tensors are always contiguous
  Tensor to(Device device) const;                  // a copy on `device` (this when already there)
  Tensor to(DType dtype) const;                    // a cast (this when already that dtype)

  // ---- autograd state (autograd/node.cpp, autograd/engine.cpp) ----
  Tensor detach() const;  // shares storage, outside the graph
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires = true);  // leaves only; floating dtypes only
  bool is_leaf() const;
  Tensor grad() const;  // accumulated gradient of a leaf (undefined before backward)
  void set_grad(const Tensor& grad) const;
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  TensorImpl* impl() const { return impl_.get(); }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // True when this handle is the only one to the tensor and the tensor the only user of all of its
  // storage: nothing else can see its elements, so they may be taken over instead of copied.
  bool is_sole_owner() const {
    return impl_ && impl_.use_count() == 1 && impl_->storage.use_count() == 1 && impl_->offset == 0 &&
           impl_->storage->nbytes() == nbytes();
  }

 private:
  const TensorImpl& checked() const {
    if (!impl_) fail("use of an undefined tensor");
    return *impl_;
  }
  void check_access(DType want) const;
  std::shared_ptr<TensorImpl> impl_;
};

// "tensor([[1, 2], [3, 4]], f32, cpu, shape [2, 2])"; at most `edge` elements shown per dimension end.
std::string to_string(const Tensor& t, int64_t edge = 3);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Overwrites dst's elements with src's (same shape and dtype; any devices), keeping dst's storage:
// in-place parameter updates, loading checkpoints, quantizer clamps. Not recorded by autograd.
void copy_data(const Tensor& dst, const Tensor& src);

// Throws naming `op` unless the tensors are on the same device.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
// Throws naming `op` unless the tensor is floating point (f32 or f64).
void check_floating(const char* op, const Tensor& t);

extern template std::vector<float> Tensor::to_vector<float>() const;
extern template std::vector<double> Tensor::to_vector<double>() const;
extern template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
extern template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
extern template std::vector<int8_t> Tensor::to_vector<int8_t>() const;
extern template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

}  // namespace sl
