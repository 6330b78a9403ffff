#include "app/models/local_models.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <map>

#include "app/chat/model_info.h"
#include "inference/chat/chat_format.h"
#include "inference/gguf/gguf.h"
#include "inference/model/llama.h"

namespace ld::models {

namespace {

// The engine's messages start with the path; the UI already shows which file it is.
QString stripPath(const QString& message, const QString& path) {
    const QString prefix = path + QStringLiteral(": ");
    QString m = message.startsWith(prefix) ? message.mid(prefix.size()) : message;
    if (!m.isEmpty()) m[0] = m[0].toUpper();
    return m;
}

QString classifyOpenError(const QString& message) {
    if (message.contains(QLatin1String("not a GGUF"), Qt::CaseInsensitive) || message.contains(QLatin1String("bad magic")) ||
        message.contains(QLatin1String("unsupported GGUF version")) || message.contains(QLatin1String("version 1")))
        return QStringLiteral("not_gguf");
    if (message.contains(QLatin1String("outside the file")) || message.contains(QLatin1String("file ends")) ||
        message.contains(QLatin1String("exceeds the file")))
        return QStringLiteral("truncated");
    if (message.contains(QLatin1String("cannot open")) || message.contains(QLatin1String("cannot map")) ||
        message.contains(QLatin1String("not a regular file")))
        return QStringLiteral("unreadable");
    return QStringLiteral("not_gguf");
}

}  // namespace

QString defaultModelsFolder() {
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/llamadesk/models");
}

LocalModel inspectModel(const QString& path, const MemoryInfo& memory) {
    LocalModel m;
    const QFileInfo fi(path);
    m.path = fi.absoluteFilePath();
    m.fileName = fi.fileName();
    m.sizeBytes = fi.size();
    const std::string p = path.toStdString();

    // Only the header (metadata and tensor table) is read, with plain reads: listing a folder of
    // multi-gigabyte models touches a few megabytes each, and a file whose tensor data is cut
    // short still says what it is.
    std::unique_ptr<gguf::File> file;
    try {
        file = gguf::File::open_header(p);
    } catch (const std::exception& e) {
        m.problem = stripPath(QString::fromUtf8(e.what()), path);
        m.problemKind = classifyOpenError(m.problem);
        if (m.problemKind == QLatin1String("truncated"))
            m.problem = QStringLiteral("The file is truncated or damaged (an interrupted copy or download?): ") + m.problem;
        return m;
    } catch (...) {
        m.problem = QStringLiteral("Cannot read the file.");
        m.problemKind = QStringLiteral("unreadable");
        return m;
    }
    const QString dataProblem = QString::fromStdString(file->data_problem());

    try {
        m.architecture = QString::fromUtf8(file->get_string("general.architecture").value_or(""));
        m.name = QString::fromUtf8(file->get_string("general.name").value_or(""));
        if (!m.architecture.isEmpty())
            m.contextLength = int(file->get_u64(m.architecture.toStdString() + ".context_length").value_or(0));
    } catch (const std::exception&) {
        // A badly typed optional key is not worth failing the listing for; the loader below
        // gives the real verdict.
    }
    std::map<GgmlType, uint64_t> bytesByType;
    for (const gguf::TensorInfo& t : file->tensors()) {
        m.parameters += t.nelements;
        if (t.ne.size() >= 2) bytesByType[t.type] += t.nbytes;
    }
    uint64_t most = 0;
    for (const auto& [type, n] : bytesByType)
        if (n > most) {
            most = n;
            m.quantType = QString::fromLatin1(type_name(type));
        }
    if (m.name.isEmpty()) m.name = fi.completeBaseName();

    // The loader's checks (every tensor's presence, type and shape) run on the header alone and
    // give the same description a loaded model has.
    QString loadError;
    if (m.architecture == QLatin1String("llama")) {
        try {
            const auto model = load_model(std::move(file));
            m.parameters = model->parameter_count();
            m.quantType = QString::fromStdString(model->dominant_type());
            m.contextLength = model->params.ctx_train;
            m.chatTemplate = QString::fromLatin1(chat_template_name(detect_chat_template(model->vocab, "llama")));
        } catch (const std::exception& e) {
            loadError = stripPath(QString::fromUtf8(e.what()), path);
            if (loadError.isEmpty()) loadError = QStringLiteral("Cannot read the model.");
        }
    }

    if (!dataProblem.isEmpty()) {
        m.problemKind = QStringLiteral("truncated");
        m.problem = QStringLiteral("The file is truncated or damaged (an interrupted copy or download?): ") +
                    stripPath(dataProblem, path);
        return m;
    }
    if (m.architecture != QLatin1String("llama")) {
        m.problemKind = QStringLiteral("not_llama");
        m.problem = m.architecture.isEmpty() ? QStringLiteral("Not a language model this app can run (no architecture in the header).")
                                             : QStringLiteral("Architecture '%1' is not supported (only Llama models).").arg(m.architecture);
        return m;
    }
    if (!loadError.isEmpty()) {
        m.problemKind = loadError.contains(QLatin1String("cannot run")) || loadError.contains(QLatin1String("must be F32"))
                            ? QStringLiteral("unsupported")
                            : QStringLiteral("invalid");
        m.problem = m.problemKind == QLatin1String("unsupported") ? QStringLiteral("Uses tensor types this engine cannot run: ") + loadError
                                                                  : loadError;
        return m;
    }
    // Weights are mapped (and the CPU backend repacks them): roughly the file plus the KV
    // cache and work buffers.
    const qint64 needed = m.sizeBytes + m.sizeBytes / 10 + (256ll << 20);
    if (fitInMemory(needed, memory) == Fit::TooBig) {
        m.problemKind = QStringLiteral("too_big");
        m.problem = QStringLiteral("Too big for this computer's memory: needs about %1, it has %2.")
                        .arg(chat::formatBytes(needed), chat::formatBytes(memory.totalBytes));
        return m;
    }
    m.loadable = true;
    return m;
}

QStringList listModelFiles(const QString& folder, const QStringList& extraFiles) {
    QStringList paths;
    const QDir dir(folder);
    for (const QFileInfo& f : dir.entryInfoList({QStringLiteral("*.gguf")}, QDir::Files, QDir::Name))
        paths << f.absoluteFilePath();
    for (const QString& p : extraFiles) {
        const QString abs = QFileInfo(p).absoluteFilePath();
        if (!paths.contains(abs)) paths << abs;
    }
    return paths;
}

QList<LocalModel> scanModels(const QString& folder, const QStringList& extraFiles, const MemoryInfo& memory) {
    QList<LocalModel> out;
    const QString root = QDir(folder).absolutePath() + QLatin1Char('/');
    for (const QString& p : listModelFiles(folder, extraFiles)) {
        LocalModel m = inspectModel(p, memory);
        m.inModelsFolder = p.startsWith(root);
        out.append(m);
    }
    return out;
}

QJsonObject toJson(const LocalModel& m) {
    QJsonObject o{{QStringLiteral("path"), m.path},
                  {QStringLiteral("file"), m.fileName},
                  {QStringLiteral("size_bytes"), double(m.sizeBytes)},
                  {QStringLiteral("in_models_folder"), m.inModelsFolder},
                  {QStringLiteral("architecture"), m.architecture},
                  {QStringLiteral("name"), m.name},
                  {QStringLiteral("parameters"), double(m.parameters)},
                  {QStringLiteral("quant_type"), m.quantType},
                  {QStringLiteral("context_length"), m.contextLength},
                  {QStringLiteral("chat_template"), m.chatTemplate},
                  {QStringLiteral("loadable"), m.loadable}};
    if (!m.loadable) {
        o.insert(QStringLiteral("problem_kind"), m.problemKind);
        o.insert(QStringLiteral("problem"), m.problem);
    }
    return o;
}

}  // namespace ld::models
