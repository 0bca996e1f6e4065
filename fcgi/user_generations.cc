#include "fcgi/user_generations.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <new>
#include <thread>

#include "lib/log.h"

namespace popup {

namespace {
constexpr size_t kGenBytes = UserGenerations::kSize * sizeof(std::atomic<uint64_t>);
constexpr size_t kBytes = kGenBytes + UserGenerations::kSlots * UserGenerations::kPendingSize *
                                          sizeof(std::atomic<uint32_t>);
}

UserGenerations::UserGenerations(const std::string& state_dir, int slots)
    : slots_(slots < 1 ? 1 : slots > kSlots ? kSlots : slots) {
  void* p = MAP_FAILED;
  if (!state_dir.empty()) {
    std::string path = state_dir + "/users.shm";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    // A zero counter is as good as any: a fresh file needs no set-up.
    if (fd >= 0 && fstat(fd, &st) == 0 &&
        (st.st_size == static_cast<off_t>(kBytes) || ftruncate(fd, kBytes) == 0))
      p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0) close(fd);
    if (p == MAP_FAILED)
      log_warn("users: cannot map %s: %s; writes by other processes reach this one only "
               "after state_cache_stale_s", path.c_str(), strerror(errno));
  }
  mapped_ = p != MAP_FAILED;
  if (p == MAP_FAILED)
    p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  table_ = static_cast<std::atomic<uint64_t>*>(p);
  pending_ = reinterpret_cast<std::atomic<uint32_t>*>(static_cast<char*>(p) + kGenBytes);
}

void UserGenerations::reset_slot(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  for (size_t i = 0; i < kPendingSize; ++i)
    pending_[static_cast<size_t>(slot) * kPendingSize + i].store(0, std::memory_order_release);
}

bool UserGenerations::wait_stored(std::string_view uid, int max_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  for (;;) {
    bool any = false;
    // Each slot's counts are a page apart: only the pool's slots are read.
    for (int slot = 0; slot < slots_ && !any; ++slot)
      any = pending(slot, uid).load(std::memory_order_acquire) != 0;
    if (!any) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

UserGenerations::~UserGenerations() { munmap(table_, kBytes); }

}  // namespace popup
