#include "app/history/writer_lock.h"

#include <QFile>

#ifdef Q_OS_UNIX
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

namespace ld::history {

std::unique_ptr<WriterLock> WriterLock::acquire(const QString& databasePath, bool* noOtherWriter) {
    *noOtherWriter = false;
#ifdef Q_OS_UNIX
    const QByteArray path = QFile::encodeName(databasePath + QStringLiteral(".lock"));
    const int fd = ::open(path.constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return nullptr;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        *noOtherWriter = true;
        return std::unique_ptr<WriterLock>(new WriterLock(fd));
    }
    // Blocks only while another opener holds it exclusively, i.e. for its recovery UPDATE.
    if (::flock(fd, LOCK_SH) != 0) {
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<WriterLock>(new WriterLock(fd));
#else
    // No portable liveness check here: assume single-process use, as before this lock existed.
    *noOtherWriter = true;
    return std::unique_ptr<WriterLock>(new WriterLock(-1));
#endif
}

void WriterLock::share() {
#ifdef Q_OS_UNIX
    if (fd_ >= 0) ::flock(fd_, LOCK_SH);
#endif
}

WriterLock::~WriterLock() {
#ifdef Q_OS_UNIX
    if (fd_ >= 0) ::close(fd_);
#endif
}

}  // namespace ld::history
