#pragma once
// Runs llamadesk-cli (or any command) for tests and captures its exit code and output.
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace ld::test {

struct RunResult {
    int exit_code = -1;
    std::string out;   // stdout
    std::string err;   // stderr
};

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// cmd is a shell command line; stderr is captured through a temporary file.
inline RunResult run_command(const std::string& cmd) {
    char tmpl[] = "/tmp/ld-test-stderr-XXXXXX";
    const int fd = mkstemp(tmpl);
    if (fd >= 0) close(fd);
    RunResult r;
    FILE* p = popen((cmd + " 2>" + tmpl).c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (FILE* e = fopen(tmpl, "r")) {
        while ((n = fread(buf, 1, sizeof buf, e)) > 0) r.err.append(buf, n);
        fclose(e);
    }
    std::remove(tmpl);
    return r;
}

inline RunResult run_cli(const std::string& args) {
    return run_command(shell_quote(LLAMADESK_CLI) + " " + args);
}

}  // namespace ld::test
