#include "app/mcp/stdio_transport.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QPointer>
#include <QProcessEnvironment>
#include <QThread>

#include <csignal>
#include <unistd.h>

#include "app/mcp/process_group.h"

namespace ld::mcp {

StdioTransport::StdioTransport(ServerConfig config, Options options, QObject* parent)
    : Transport(parent), config_(std::move(config)), options_(options) {
    termTimer_.setSingleShot(true);
    killTimer_.setSingleShot(true);
    pollTimer_.setInterval(25);
    connect(&termTimer_, &QTimer::timeout, this, [this] { signalProcessGroup(pgid_, SIGTERM); });
    connect(&killTimer_, &QTimer::timeout, this, [this] { signalProcessGroup(pgid_, SIGKILL); });
    connect(&pollTimer_, &QTimer::timeout, this, &StdioTransport::poll);
}

StdioTransport::~StdioTransport() {
    if (!process_) return;
    process_->disconnect(this);
    if (processGroupAlive(pgid_)) {
        signalProcessGroup(pgid_, SIGTERM);
        QElapsedTimer t;
        t.start();
        while (processGroupAlive(pgid_) && t.elapsed() < 300) {
            process_->waitForFinished(10);  // reaps the leader
            QThread::msleep(5);
        }
        if (processGroupAlive(pgid_)) signalProcessGroup(pgid_, SIGKILL);
    }
    if (process_->state() != QProcess::NotRunning) {
        process_->kill();
        process_->waitForFinished(1000);
    }
}

void StdioTransport::open() {
    if (process_) return;
    process_ = new QProcess(this);
    process_->setProgram(config_.command);
    process_->setArguments(config_.args);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (auto it = config_.env.begin(); it != config_.env.end(); ++it) env.insert(it.key(), it.value());
    process_->setProcessEnvironment(env);
    if (!config_.cwd.isEmpty()) process_->setWorkingDirectory(config_.cwd);
    // Its own session and process group, so that stopping reaches every process it starts.
    process_->setChildProcessModifier([] { ::setsid(); });
    connect(process_, &QProcess::started, this, [this] {
        pgid_ = pid_t(process_->processId());
        if (closing_) {  // closed while it was starting: it never served anyone
            signalProcessGroup(pgid_, SIGKILL);
            return;
        }
        emit opened();
    });
    connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            fail(QStringLiteral("cannot start \"%1\": %2").arg(config_.command, process_->errorString()));
        else if (e == QProcess::WriteError && !closing_)
            fail(QStringLiteral("cannot write to the server: %1").arg(process_->errorString()));
    });
    connect(process_, &QProcess::readyReadStandardOutput, this, &StdioTransport::onStdout);
    connect(process_, &QProcess::readyReadStandardError, this, &StdioTransport::onStderr);
    connect(process_, &QProcess::finished, this, &StdioTransport::onFinished);
    process_->start(QIODevice::ReadWrite);
}

void StdioTransport::send(const QJsonObject& message) {
    if (!process_ || process_->state() != QProcess::Running || closing_) return;
    QByteArray line = QJsonDocument(message).toJson(QJsonDocument::Compact);
    line += '\n';
    process_->write(line);
}

void StdioTransport::onStdout() {
    stdout_ += process_->readAllStandardOutput();
    QPointer<StdioTransport> self(this);
    qsizetype start = 0;
    while (!closing_) {
        const qsizetype nl = stdout_.indexOf('\n', start);
        if (nl < 0) break;
        QByteArray line = stdout_.mid(start, nl - start);
        start = nl + 1;
        if (line.endsWith('\r')) line.chop(1);
        if (line.size() > options_.maxLineBytes) break;  // reported below
        if (line.trimmed().isEmpty()) continue;
        emit lineReceived(line);
        if (!self) return;  // a receiver deleted us
    }
    stdout_.remove(0, start);
    if (closing_) return;
    const qsizetype nl = stdout_.indexOf('\n');
    if ((nl < 0 ? stdout_.size() : nl) > options_.maxLineBytes) {
        stdout_.clear();
        fail(QStringLiteral("the server sent a message longer than %1 MiB; connection closed")
                 .arg(double(options_.maxLineBytes) / (1024 * 1024), 0, 'g', 3));
    }
}

void StdioTransport::onStderr() {
    stderr_ += process_->readAllStandardError();
    if (stderr_.size() > options_.stderrLogBytes) {
        stderr_.remove(0, stderr_.size() - options_.stderrLogBytes);
        // Start at a line boundary so the log does not begin mid-line.
        const qsizetype nl = stderr_.indexOf('\n');
        if (nl >= 0 && nl < stderr_.size() - 1) stderr_.remove(0, nl + 1);
    }
}

QString StdioTransport::stderrTail() const {
    const QList<QByteArray> lines = stderr_.trimmed().split('\n');
    const QString last = QString::fromUtf8(lines.isEmpty() ? QByteArray() : lines.last().trimmed());
    return last.isEmpty() ? QString() : QStringLiteral(" (last stderr line: %1)").arg(last.left(300));
}

void StdioTransport::onFinished(int exitCode, QProcess::ExitStatus status) {
    onStderr();
    if (!closing_) {
        // The leader is gone on its own: a crash or an exit mid-session.
        fail(status == QProcess::CrashExit
                 ? QStringLiteral("the server crashed%1").arg(stderrTail())
                 : QStringLiteral("the server exited with code %1%2").arg(exitCode).arg(stderrTail()));
    }
    poll();
}

void StdioTransport::fail(const QString& reason) {
    if (failed_ || closing_) return;
    failed_ = true;
    QPointer<StdioTransport> self(this);
    emit failed(reason);
    if (self) close();
}

void StdioTransport::close() {
    if (closing_) return;
    closing_ = true;
    if (!process_ || (process_->state() == QProcess::NotRunning && !processGroupAlive(pgid_))) {
        // Nothing was started, or everything has exited: report it from the event loop so that
        // callers see the same order as when closing takes a while.
        QTimer::singleShot(0, this, &StdioTransport::poll);
        return;
    }
    if (process_->state() == QProcess::Running) process_->closeWriteChannel();
    termTimer_.start(options_.stdinCloseGraceMs);
    killTimer_.start(options_.stdinCloseGraceMs + options_.termGraceMs);
    pollTimer_.start();
}

void StdioTransport::poll() {
    if (!closing_ || closedEmitted_) return;
    if (process_ && process_->state() != QProcess::NotRunning) return;
    if (processGroupAlive(pgid_)) return;
    termTimer_.stop();
    killTimer_.stop();
    pollTimer_.stop();
    closedEmitted_ = true;
    emit closed();
}

QString StdioTransport::log() const { return QString::fromUtf8(stderr_); }

}  // namespace ld::mcp
