// The configuration set one process serves, shared by its threads.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "core/popup.h"

namespace popup {

// The active configuration set of one process, shared by its threads.
class ConfigCache {
 public:
  std::shared_ptr<const ConfigSet> get() const {
    std::lock_guard<std::mutex> l(mu_);
    return cur_;
  }
  void set(std::shared_ptr<const ConfigSet> c) {
    std::lock_guard<std::mutex> l(mu_);
    if (mirror_) mirror_->store(c ? c->version : 0, std::memory_order_relaxed);
    cur_ = std::move(c);
  }
  // Also keeps the version served in *m (shared memory that /api/metrics
  // reads for the whole pool); nullptr: nowhere.
  void mirror_to(std::atomic<int64_t>* m) {
    std::lock_guard<std::mutex> l(mu_);
    mirror_ = m;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ConfigSet> cur_;
  std::atomic<int64_t>* mirror_ = nullptr;
};

}  // namespace popup
