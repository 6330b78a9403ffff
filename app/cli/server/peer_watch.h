#pragma once
// Notices a client that has hung up while its request waits in the queue or runs without
// streaming (nothing is written then, so no write can fail). httplib 0.11 gives a handler no
// socket, so the connection is found by its ports among this process's sockets, once per request.
#include <string>

namespace ld::server {

class PeerWatch {
public:
    // remote/local: the request's ports (httplib::Request::remote_port / local_port).
    PeerWatch(int remote_port, int local_port);
    // True once the client closed its side (EOF or a reset). False when unknown. A client that
    // only shuts down its sending side after the request (`nc -N`) looks the same; HTTP
    // clients do not do that, and such a one gets an error reply instead of a hang.
    bool gone() const;

private:
    int fd_ = -1;  // owned by httplib; valid while the handler runs
};

}  // namespace ld::server
