#pragma once
// cpp-httplib's Server with an accept loop that outlives a failed accept().
//
// httplib 0.11's loop ends for good on any accept() error but EMFILE, EINTR and EAGAIN: it closes
// the listening socket, waits for every open connection to end, and returns. Linux's accept() can
// fail for a moment without anything being wrong with the socket (ENOBUFS, ENOMEM, ENFILE, EPERM
// from a firewall or security module, and the network errors of a pending connection that the man
// page asks callers to retry): one such error would end the server while it looked alive, every
// later connection refused. So the listening socket is held here and httplib's loop gets a
// duplicate of it: when the loop ends on an error, the socket is still bound and listening (new
// connections wait in its backlog), the error is logged, and a new loop starts at once on a new
// duplicate, over the same thread pool, so connections being answered go on undisturbed.
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include <httplib.h>

namespace ld::server {

class HttpListener : public httplib::Server {
public:
    // threads: connections answered at once (each holds one for its whole life).
    explicit HttpListener(size_t threads);
    ~HttpListener() override;
    HttpListener(const HttpListener&) = delete;
    HttpListener& operator=(const HttpListener&) = delete;

    // Binds host:port (port 0: any free one); returns the port, or -1.
    int bind_socket(const std::string& host, int port);
    // Accepts until stop_listening(), then returns once every connection has ended. A failed
    // accept() is logged on stderr and accepting goes on. Throws ld::Error only when the
    // listening socket itself is gone (closed behind the server's back).
    void serve();
    // Closes the listening socket: serve() returns once the connections being answered end. Any
    // thread, also before serve() runs or while it restarts its loop.
    void stop_listening();

private:
    class LoopQueue;
    void loop_ended(int err);  // httplib's loop is over: with `err`, accept() failed

    const size_t threads_;
    std::mutex fd_mu_;    // guards listen_fd_: stop_listening() must not shut down a reused number
    int listen_fd_ = -1;  // owned; httplib's loop gets dup()s
    std::unique_ptr<httplib::ThreadPool> pool_;  // serve()'s, shared by its loops
    std::atomic<bool> stopping_{false};
    int last_error_ = 0;  // the errno that ended the last loop (serve()'s thread only)
};

}  // namespace ld::server
