// The accept queue of a listening socket, as php-fpm's status page shows it:
// how many connections wait to be accepted, and the backlog the kernel
// allows. The supervisor samples its socket; under spawn-fcgi, which has no
// supervisor, each worker samples the socket it inherited.
#pragma once

#include "fcgi/metrics.h"

namespace popup {

// Reads fd's queue into the pool-wide gauges: the depth (-1 when the kernel
// does not say) and, when known, the backlog. TCP_INFO for TCP sockets
// (tcpi_unacked / tcpi_sacked on a listener), sock_diag UNIX_DIAG_RQLEN for
// unix sockets (rqueue / wqueue on a listener).
void publish_listen_queue(int fd, MetricsShm& shm);

}  // namespace popup
