// llamadesk-cli models: the model manager without a window. `list` prints the models folder
// as JSON (metadata and whether each file loads here); `download` fetches a file with the
// app's downloader — same .part resume, checksum and errors — with progress on stderr, and
// says what the file was checked against: --sha256, the SHA-256 the server reported, or nothing.
#include <QCoreApplication>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTimer>
#include <cstdio>
#include <iostream>
#include <unistd.h>

#include "app/chat/model_info.h"
#include "app/cli/cli_hooks.h"
#include "app/cli/qt_support.h"
#include "app/models/local_models.h"
#include "app/models/model_download.h"

namespace ld::cli {
namespace {

using namespace ld::models;


int fail(const QString& text) {
    std::cerr << "error: " << text.toStdString() << '\n';
    return 1;
}

int usage() {
    std::cerr << "usage: llamadesk-cli models list [--dir D]\n"
                 "       llamadesk-cli models download URL [--sha256 HEX] [--dir D] [--token T]\n"
                 "The folder defaults to " << defaultModelsFolder().toStdString() << ".\n"
                 "The token (also $HF_TOKEN) is sent to Hugging Face for gated models.\n"
                 "An interrupted download resumes from FILE.part when run again.\n"
                 "Without --sha256 the file is checked against the SHA-256 the server reports\n"
                 "(Hugging Face does for model files); the last line says when it reported none.\n";
    return 2;
}

QString progressLine(const ModelDownload& d) {
    const DownloadProgress& p = d.progress();
    QString line = QStringLiteral("%1: %2").arg(d.request().fileName, chat::formatBytes(p.received));
    if (p.total > 0)
        line += QStringLiteral(" of %1 (%2%)").arg(chat::formatBytes(p.total)).arg(int(100.0 * double(p.received) / double(p.total)));
    if (p.bytesPerSecond > 0) line += QStringLiteral(", %1/s").arg(chat::formatBytes(qint64(p.bytesPerSecond)));
    if (p.secondsLeft >= 0) line += QStringLiteral(", %1 s left").arg(p.secondsLeft);
    return line;
}

int download(const QString& url, const QString& dir, const QString& sha, const QString& token) {
    DownloadRequest req;
    req.url = QUrl(url);
    req.folder = dir;
    req.sha256 = sha;
    req.token = token;
    ModelDownload d(req);
    const bool tty = isatty(STDERR_FILENO);
    QEventLoop loop;
    QElapsedTimer sinceLine;
    sinceLine.start();
    QObject::connect(&d, &ModelDownload::progressChanged, &loop, [&] {
        if (d.state() != DownloadState::Running) return;
        // A terminal gets one updating line; a log gets a line a second.
        if (tty) {
            std::cerr << '\r' << progressLine(d).toStdString() << "\x1b[K" << std::flush;
        } else if (sinceLine.elapsed() >= 1000) {
            sinceLine.restart();
            std::cerr << progressLine(d).toStdString() << '\n';
        }
    });
    QObject::connect(&d, &ModelDownload::stateChanged, &loop, [&](DownloadState s) {
        if (tty && s != DownloadState::Running) std::cerr << '\n';
        if (s == DownloadState::Verifying)
            std::cerr << (d.expectedSha256().isEmpty() ? "hashing " : "verifying ") << d.request().fileName.toStdString() << " (SHA-256)\n";
        if (s == DownloadState::Finished || s == DownloadState::Failed || s == DownloadState::Cancelled) loop.quit();
    });
    QObject::connect(&d, &ModelDownload::notice, &loop, [&](const QString& text) {
        if (tty) std::cerr << '\n';
        std::cerr << "note: " << text.toStdString() << '\n';
    });
    QTimer::singleShot(0, &d, [&] {
        d.start();
        if (d.resumed() && d.state() == DownloadState::Running)
            std::cerr << "resuming " << d.request().fileName.toStdString() << " from " << chat::formatBytes(d.resumedFrom()).toStdString() << '\n';
    });
    loop.exec();
    if (d.state() != DownloadState::Finished) return fail(d.errorString());
    // Never claim a check that did not happen: without --sha256 or a server checksum it says so.
    const QString how = d.checksumSource() == ChecksumSource::Given ? QStringLiteral("verified: the SHA-256 matches --sha256")
                                                                    : d.verificationText();
    std::cerr << "downloaded " << d.request().fileName.toStdString() << " (" << chat::formatBytes(d.progress().received).toStdString()
              << "), sha256 " << d.computedSha256().toStdString() << "; " << how.toStdString() << '\n';
    std::cout << d.finalPath().toStdString() << '\n';
    return 0;
}

}  // namespace

int run_models_command(const std::vector<std::string>& args) {
    QString dir, sha, token = qEnvironmentVariable("HF_TOKEN");
    std::vector<std::string> positional;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--dir" || a == "--sha256" || a == "--token") {
            if (i + 1 >= args.size()) return fail(QStringLiteral("%1 needs a value.").arg(qs(a)));
            const QString v = qs(args[++i]);
            if (a == "--dir") dir = v;
            else if (a == "--sha256") sha = v;
            else token = v;
        } else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else {
            positional.push_back(a);
        }
    }
    if (positional.empty()) return usage();
    ensure_qt_application();
    if (dir.isEmpty()) dir = defaultModelsFolder();

    if (positional[0] == "list" && positional.size() == 1) {
        QJsonArray out;
        for (const LocalModel& m : scanModels(dir, {}, readMemoryInfo())) out.append(toJson(m));
        const QByteArray json = QJsonDocument(out).toJson(QJsonDocument::Indented);
        std::fwrite(json.constData(), 1, size_t(json.size()), stdout);
        return 0;
    }
    if (positional[0] == "download" && positional.size() == 2) return download(qs(positional[1]), dir, sha, token);
    if (positional[0] != "list" && positional[0] != "download")
        std::cerr << "error: unknown models command '" << positional[0] << "'.\n";
    return usage();
}

}  // namespace ld::cli
