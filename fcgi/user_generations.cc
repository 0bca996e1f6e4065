#include "fcgi/user_generations.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "fcgi/log.h"

namespace popup {

namespace {
constexpr size_t kBytes = UserGenerations::kSize * sizeof(std::atomic<uint64_t>);
}

UserGenerations::UserGenerations(const std::string& state_dir) {
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
}

UserGenerations::~UserGenerations() { munmap(table_, kBytes); }

}  // namespace popup
