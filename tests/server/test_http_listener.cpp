// `serve`'s accept loop outlives a failed accept() (app/cli/server/http_listener.h): httplib
// 0.11's own loop ended for good on any error but EMFILE/EINTR/EAGAIN, closing the socket, so
// one transient error (ENOBUFS, ENOMEM, ENFILE, a firewall's EPERM, ...) left a server that
// refused every later connection. This binary defines accept() itself, which takes precedence
// over libc's for httplib (a shared library), and fails the calls a test asks for.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include <httplib.h>

#include "app/cli/server/generation_service.h"
#include "app/cli/server/http_server.h"

namespace {

std::atomic<int> g_to_fail{0};  // accept() calls still to fail ...
std::atomic<int> g_errno{0};    // ... with this errno
std::atomic<int> g_failed{0};   // failures handed out

}  // namespace

extern "C" int accept(int fd, sockaddr* __restrict addr, socklen_t* __restrict len) {
    if (g_to_fail.load() > 0) {  // one caller: httplib's loop
        g_to_fail.fetch_sub(1);
        g_failed.fetch_add(1);
        errno = g_errno.load();
        return -1;
    }
    return accept4(fd, addr, len, 0);
}

namespace ld::server {
namespace {

// /health and connections are all these tests need: no job is ever submitted.
class NoService final : public GenerationService {
public:
    ServedModel model() const override { return {}; }
    ServiceFeatures features() const override { return {}; }
    bool submit(const std::shared_ptr<GenJob>&) override { return false; }
    void cancel(const std::shared_ptr<GenJob>&) override {}
};

// An ApiServer listening on a thread; what listen() threw, if anything.
class Running {
public:
    explicit Running(ServerConfig cfg = {}) : server_(with_any_port(cfg), service_) {
        port_ = server_.bind();
        thread_ = std::thread([this] {
            try {
                server_.listen();
            } catch (const std::exception& e) {
                error_ = e.what();
            }
            returned_.store(true);
        });
    }
    ~Running() {
        server_.stop();
        join();
    }
    int port() const { return port_; }
    bool returned() const { return returned_.load(); }
    const std::string& error() const { return error_; }  // once returned()
    ApiServer& server() { return server_; }
    void join() {
        if (thread_.joinable()) thread_.join();
    }

private:
    static ServerConfig with_any_port(ServerConfig c) {
        c.port = 0;
        return c;
    }
    NoService service_;
    ApiServer server_;
    int port_ = 0;
    std::thread thread_;
    std::atomic<bool> returned_{false};
    std::string error_;
};

// GET /health on a new connection: the HTTP status, or -1 when it could not connect or read.
int health(int port) {
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(5, 0);
    const httplib::Result res = client.Get("/health");
    return res ? res->status : -1;
}

bool wait_for(const std::atomic<int>& value, int want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (value.load() < want)
        if (std::chrono::steady_clock::now() > until) return false;
        else std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return true;
}

// A raw connection to the server.
int connect_to(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

bool send_all(int fd, const std::string& s) { return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }

TEST(HttpListener, KeepsAcceptingAfterAcceptFails) {
    g_to_fail = 0;
    g_failed = 0;
    testing::internal::CaptureStderr();
    Running r;
    ASSERT_EQ(health(r.port()), 200);
    int failed = 0;
    // Errors Linux's accept() may return for a moment; the last case fails three calls in a row.
    const std::pair<int, int> cases[] = {{ENOBUFS, 1}, {ENOMEM, 1}, {ENFILE, 1}, {EPERM, 1}, {ECONNABORTED, 1},
                                         {EPROTO, 1}, {ENETDOWN, 1}, {EHOSTUNREACH, 1}, {ENOBUFS, 3}};
    for (const auto& [err, times] : cases) {
        SCOPED_TRACE(strerrorname_np(err));
        g_errno = err;
        g_to_fail = times;
        // The loop is waiting in an accept() that began before: it takes this connection, and
        // its next calls fail.
        EXPECT_EQ(health(r.port()), 200);
        failed += times;
        ASSERT_TRUE(wait_for(g_failed, failed)) << "the interposed accept() was not called";
        EXPECT_EQ(health(r.port()), 200) << "no answer after accept() failed";
        ASSERT_FALSE(r.returned()) << "listen() ended: " << r.error();
    }
    r.server().stop();
    r.join();
    EXPECT_EQ(r.error(), "");
    // Logged with its errno (once a second: the first failure).
    EXPECT_NE(testing::internal::GetCapturedStderr().find("accept() failed: No buffer space available (ENOBUFS)"), std::string::npos);
}

// A connection being answered when accept() fails is answered still, and the new loop does not
// wait for it to end (it holds its thread until the request is complete: 30 s here).
TEST(HttpListener, ConnectionsGoOnAcrossARestart) {
    g_to_fail = 0;
    g_failed = 0;
    Running r;
    const int held = connect_to(r.port());
    ASSERT_GE(held, 0);
    ASSERT_TRUE(send_all(held, "GET /health HTTP/1.1\r\n"));  // the rest of the request comes later
    g_errno = ENOBUFS;
    g_to_fail = 1;
    EXPECT_EQ(health(r.port()), 200);  // accepted by the waiting call; the next one fails
    ASSERT_TRUE(wait_for(g_failed, 1));
    EXPECT_EQ(health(r.port()), 200) << "the new loop waited for the held connection";
    ASSERT_TRUE(send_all(held, "Host: 127.0.0.1:" + std::to_string(r.port()) + "\r\nConnection: close\r\n\r\n"));
    std::string reply;
    char buf[4096];
    timeval tv{5, 0};
    setsockopt(held, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (ssize_t n; (n = recv(held, buf, sizeof buf, 0)) > 0;) reply.append(buf, size_t(n));
    close(held);
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
    EXPECT_NE(reply.find("{\"status\":\"ok\"}"), std::string::npos) << reply;
}

// stop() before listen() runs: listen() returns at once, and the port is free again.
TEST(HttpListener, StopBeforeListen) {
    NoService service;
    ServerConfig cfg;
    cfg.port = 0;
    ApiServer server(cfg, service);
    const int port = server.bind();
    server.stop();
    server.listen();
    ServerConfig again;
    again.port = port;
    ApiServer second(again, service);
    EXPECT_EQ(second.bind(), port);
    second.stop();
    second.listen();
}

}  // namespace
}  // namespace ld::server
