// What /proc says about a process (the process_* metrics of the pool,
// fcgi/metrics.cc): Linux only, no other dependency.
#pragma once

#include <cstdint>

namespace popup {

// /proc/<pid>/stat; ok = false when the process is gone.
struct ProcStat {
  bool ok = false;
  uint64_t cpu_ticks = 0;    // utime + stime
  uint64_t start_ticks = 0;  // since boot
  uint64_t vsize = 0;        // bytes
  uint64_t rss_pages = 0;
};

ProcStat proc_stat(int32_t pid);
// Open descriptors of pid (its /proc/<pid>/fd entries).
int64_t open_fds(int32_t pid);
// The boot time in unix seconds (/proc/stat btime); 0 when unknown.
int64_t boot_time();

}  // namespace popup
