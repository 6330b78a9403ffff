#pragma once
// Qt Test counterpart of tests/engine/test_util.h's LD_SKIP_OR_FAIL_IN_CI: a test that needs the
// shared test data (../shared, LLAMADESK_SHARED_DIR) or an npm peer skips with the reason on a
// developer's machine and fails in CI (CI=true), where both are always installed. Hardware that is
// absent (no Vulkan device) and opt-in benchmarks stay plain QSKIPs.
#include <QByteArray>
#include <QFileInfo>
#include <QFuture>
#include <QString>
#include <QTest>
#include <algorithm>
#include <cstdint>
#include <vector>

namespace ld::test {

// True under CI (CI=true, as GitHub Actions, GitLab and .ci/run set it; "1" too).
inline bool inCi() {
    const QByteArray ci = qgetenv("CI");
    return ci.compare("true", Qt::CaseInsensitive) == 0 || ci == "1";
}

// The result of an asynchronous call (a HistoryStore future), pumping events while it runs;
// ends the test run if it takes over 10 s (a hung call, not a slow one).
template <class T>
T await(QFuture<T> f) {
    if (!QTest::qWaitFor([&] { return f.isFinished(); }, 10000)) qFatal("an asynchronous call timed out");
    return f.result();
}

// How many leading tokens two prompts share (what a prefix cache could reuse).
inline size_t commonPrefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    return size_t(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

}  // namespace ld::test

// `reason`: a const char* or QByteArray. Returns from the test function either way.
#define LD_QSKIP_OR_FAIL_IN_CI(reason)                                                 \
    do {                                                                               \
        const QByteArray ld_reason_ = QByteArray(reason);                              \
        if (::ld::test::inCi()) QFAIL(("CI=true, yet " + ld_reason_).constData());     \
        QSKIP(ld_reason_.constData());                                                 \
    } while (0)

// Skips (fails in CI) unless the file `path` (a QString or string literal) exists.
#define LD_QREQUIRE_FILE(path)                                                                          \
    do {                                                                                                \
        const QString ld_path_ = QString(path);                                                         \
        if (!QFileInfo::exists(ld_path_))                                                               \
            LD_QSKIP_OR_FAIL_IN_CI("needs " + ld_path_.toUtf8() + " (reference models folder absent)"); \
    } while (0)
