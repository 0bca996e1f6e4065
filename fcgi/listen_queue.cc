#include "fcgi/listen_queue.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>

namespace popup {
namespace {

struct ListenQueue {
  long depth = -1;    // connections waiting to be accepted
  long backlog = -1;  // the kernel's limit for this socket
};

void tcp_queue(int fd, ListenQueue* out) {
  tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return;
  out->depth = ti.tcpi_unacked;
  out->backlog = ti.tcpi_sacked;
}

void unix_queue(int fd, ListenQueue* out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = 1 << 10;  // TCP_LISTEN
  msg.req.udiag_ino = static_cast<uint32_t>(st.st_ino);
  msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0U;
  msg.req.udiag_show = UDIAG_SHOW_RQLEN;
  if (send(nl, &msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg)) {
    alignas(nlmsghdr) char buf[1024];
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    if (n > 0 && NLMSG_OK(h, static_cast<size_t>(n)) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      int rtalen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, rtalen); a = RTA_NEXT(a, rtalen)) {
        if (a->rta_type == UNIX_DIAG_RQLEN) {
          auto* rq = static_cast<unix_diag_rqlen*>(RTA_DATA(a));
          out->depth = rq->udiag_rqueue;
          out->backlog = rq->udiag_wqueue;
        }
      }
    }
  }
  close(nl);
}

ListenQueue read_listen_queue(int fd) {
  ListenQueue q;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return q;
  if (ss.ss_family == AF_UNIX) unix_queue(fd, &q);
  if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) tcp_queue(fd, &q);
  return q;
}

}  // namespace

void publish_listen_queue(int fd, MetricsShm& shm) {
  ListenQueue q = read_listen_queue(fd);
  shm.listen_queue.store(q.depth);
  if (q.backlog >= 0) shm.listen_backlog.store(q.backlog);
}

}  // namespace popup
