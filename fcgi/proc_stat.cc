#include "fcgi/proc_stat.h"

#include <dirent.h>

#include <cstdio>
#include <cstring>

namespace popup {

ProcStat proc_stat(int32_t pid) {
  ProcStat st;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (!f) return st;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: fields start after
  // the last ')'. Field 3 is the state; utime is 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  const char* p = strrchr(buf, ')');
  if (!p) return st;
  unsigned long long utime, stime, start, vsize;
  long long rss;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                    "%*d %llu %llu %lld",
             &utime, &stime, &start, &vsize, &rss) != 5)
    return st;
  st.ok = true;
  st.cpu_ticks = utime + stime;
  st.start_ticks = start;
  st.vsize = vsize;
  st.rss_pages = rss > 0 ? static_cast<uint64_t>(rss) : 0;
  return st;
}

int64_t open_fds(int32_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", static_cast<int>(pid));
  DIR* d = opendir(path);
  if (!d) return 0;
  int64_t n = 0;
  while (struct dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the descriptor opendir itself holds, when pid is us
}

int64_t boot_time() {
  FILE* f = fopen("/proc/stat", "re");
  if (!f) return 0;
  char line[256];
  long long bt = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "btime %lld", &bt) == 1) break;
  fclose(f);
  return bt;
}

}  // namespace popup
