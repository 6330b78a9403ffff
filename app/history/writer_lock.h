#pragma once
// Which processes may still be writing replies into a history database. Every process that
// opens it for writing holds a shared flock on "<db>.lock"; the kernel drops it when the process
// dies, SIGKILL included. Whoever gets the lock exclusively knows that no writer is alive, so
// replies left `streaming` are orphans and may be marked `interrupted`. Without this, a
// `llamadesk-cli history list` run while the app streams would cut the live reply off.
#include <QString>
#include <memory>

namespace ld::history {

class WriterLock {
public:
    // Locks `databasePath + ".lock"`: exclusively when no other process holds it (then
    // *noOtherWriter is true and recovery is safe until share() is called), shared otherwise
    // (waiting while another opener recovers). nullptr when the lock file cannot be created
    // (a read-only folder); callers then skip recovery.
    static std::unique_ptr<WriterLock> acquire(const QString& databasePath, bool* noOtherWriter);
    // Exclusive -> shared, after recovery: other processes may now open and write.
    void share();
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    explicit WriterLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace ld::history
