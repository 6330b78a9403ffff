#include "app/cli/server/http_listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "inference/core/error.h"

namespace ld::server {

namespace {

// Beyond httplib's 5: connections that arrive together (a client starting --parallel N streams
// at once) wait in the queue instead of having their SYNs dropped, which costs a client a second
// or more per retransmission.
constexpr int kBacklog = 128;

std::string errno_text(int err) {
    const char* name = strerrorname_np(err);
    return std::string(std::strerror(err)) + " (" + (name ? name : "errno " + std::to_string(err)) + ")";
}

}  // namespace

// Each loop's task queue: the connections go to serve()'s one pool, and the loop's end (its
// shutdown()) does not wait for them, so a restart leaves them running. serve() drains the pool
// once, at the end.
class HttpListener::LoopQueue final : public httplib::TaskQueue {
public:
    explicit LoopQueue(HttpListener& owner) : owner_(owner) {}
    void enqueue(std::function<void()> fn) override { owner_.pool_->enqueue(std::move(fn)); }
    // httplib calls this right after the accept() that ended its loop, with nothing in between
    // that sets errno (a successful close()): errno is still accept()'s.
    void shutdown() override { owner_.loop_ended(errno); }

private:
    HttpListener& owner_;
};

HttpListener::HttpListener(size_t threads) : threads_(std::max<size_t>(1, threads)) {}

HttpListener::~HttpListener() {
    std::lock_guard<std::mutex> lock(fd_mu_);
    if (listen_fd_ >= 0) ::close(listen_fd_);  // bound, but serve() never ran
}

int HttpListener::bind_socket(const std::string& host, int port) {
    int bound = -1;
    if (port == 0) {
        bound = bind_to_any_port(host);
    } else if (bind_to_port(host, port)) {
        bound = port;
    }
    const int fd = svr_sock_.exchange(INVALID_SOCKET);
    if (bound <= 0) {
        if (fd != INVALID_SOCKET) ::close(fd);
        return -1;
    }
    ::listen(fd, kBacklog);  // raises the backlog of the listening socket; on failure httplib's stays
    std::lock_guard<std::mutex> lock(fd_mu_);
    listen_fd_ = fd;
    return bound;
}

void HttpListener::loop_ended(int err) { last_error_ = err; }

void HttpListener::serve() {
    {
        std::lock_guard<std::mutex> lock(fd_mu_);
        if (stopping_.load()) return;  // stop_listening() came first
        if (listen_fd_ < 0) fail("the server is not bound to a port");
    }
    pool_ = std::make_unique<httplib::ThreadPool>(threads_);
    new_task_queue = [this] { return new LoopQueue(*this); };
    // Every way out: connections end before serve() returns, and the socket closes.
    struct Drain {
        HttpListener& l;
        ~Drain() {
            // httplib answers a connection's next request only while svr_sock_ is valid: kept-alive
            // connections end after their current request, as with httplib's own stop().
            l.svr_sock_ = INVALID_SOCKET;
            l.pool_->shutdown();
            l.pool_.reset();
            std::lock_guard<std::mutex> lock(l.fd_mu_);
            if (l.listen_fd_ >= 0) ::close(l.listen_fd_);
            l.listen_fd_ = -1;
        }
    } drain{*this};
    using Clock = std::chrono::steady_clock;
    // An error that persists (ENFILE until files close) is logged once a second, not per retry.
    Clock::time_point logged{};
    int unlogged = 0;
    while (!stopping_.load()) {
        int sock = -1, err = 0;
        {
            std::lock_guard<std::mutex> lock(fd_mu_);
            if (listen_fd_ < 0) break;  // stop_listening() closed it
            sock = ::fcntl(listen_fd_, F_DUPFD_CLOEXEC, 0);
            err = errno;
        }
        if (sock < 0) {
            if (err == EBADF) fail("the server's listening socket was closed");
            // EMFILE/ENFILE: no descriptor to spare until a connection closes.
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        svr_sock_ = sock;
        last_error_ = 0;
        // Until accept() fails (stop_listening() or an error); httplib closes `sock` then, but
        // svr_sock_ keeps the number until the next duplicate replaces it: an invalid one would
        // make httplib end the connections being answered.
        listen_after_bind();
        if (stopping_.load()) break;
        if (Clock::now() - logged >= std::chrono::seconds(1)) {
            std::cerr << "serve: accept() failed: " << errno_text(last_error_) << "; accepting again";
            if (unlogged) std::cerr << " (" << unlogged << " more failures in the last second)";
            std::cerr << std::endl;
            logged = Clock::now();
            unlogged = 0;
        } else {
            ++unlogged;
        }
        // Connections wait in the backlog meanwhile; a persisting error costs 100 tries a second.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void HttpListener::stop_listening() {
    std::lock_guard<std::mutex> lock(fd_mu_);
    stopping_.store(true);
    if (listen_fd_ < 0) return;
    // Shut down, not only closed: the socket lives on in the loop's duplicate, and a shut-down
    // listening socket fails every accept() at once (also one that is waiting), which ends
    // httplib's loop. Then closed, so that the port is free at once (a restarted server binds it
    // again while this one still answers its last connections).
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    listen_fd_ = -1;
}

}  // namespace ld::server
