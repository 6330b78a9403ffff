#include "app/documents/document_reader.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QSet>

#include "app/documents/readers_internal.h"

namespace ld::documents {

namespace {

const QSet<QString>& sourceExtensions() {
    static const QSet<QString> s = {
        "c", "cc", "cpp", "cxx", "h", "hh", "hpp", "hxx", "py", "js", "mjs", "ts", "tsx", "jsx",
        "java", "kt", "rs", "go", "rb", "php", "cs", "swift", "m", "mm", "scala", "lua", "pl",
        "sh", "bash", "zsh", "fish", "ps1", "sql", "r", "jl", "hs", "ml", "ex", "exs", "erl",
        "clj", "dart", "zig", "nim", "v", "vhd", "qml", "cmake", "json", "yaml", "yml", "toml",
        "xml", "css", "scss", "ini", "cfg", "conf", "proto", "gradle", "mk", "diff", "patch",
    };
    return s;
}

const QSet<QString>& textExtensions() {
    static const QSet<QString> s = {"txt", "text", "log", "csv", "tsv", "rst", "tex", "org", "adoc", "srt", "vtt", "nfo"};
    return s;
}

// Formats people will drop that have no reader: say what to do instead.
const QHash<QString, QString>& unsupported() {
    static const QHash<QString, QString> h = {
        {"doc", "the old binary Word format (.doc) is not supported; save it as DOCX or PDF"},
        {"xls", "spreadsheets are not supported"}, {"xlsx", "spreadsheets are not supported"},
        {"ods", "spreadsheets are not supported"}, {"ppt", "presentations are not supported"},
        {"pptx", "presentations are not supported"}, {"odp", "presentations are not supported"},
        {"rtf", "RTF is not supported; save it as DOCX, ODT or PDF"},
        {"epub", "EPUB is not supported yet"},
        {"png", "images are not supported (no OCR)"}, {"jpg", "images are not supported (no OCR)"},
        {"jpeg", "images are not supported (no OCR)"}, {"gif", "images are not supported (no OCR)"},
        {"webp", "images are not supported (no OCR)"}, {"tif", "images are not supported (no OCR)"},
        {"tiff", "images are not supported (no OCR)"}, {"zip", "archives are not supported"},
        {"gz", "archives are not supported"}, {"7z", "archives are not supported"},
        {"tar", "archives are not supported"}, {"exe", "programs are not documents"},
        {"gguf", "that is a model file, not a document"},
        {"mp3", "audio is not supported"}, {"mp4", "video is not supported"},
    };
    return h;
}

QString sizeText(qint64 bytes) {
    if (bytes >= 1024 * 1024) return QStringLiteral("%1 MB").arg(double(bytes) / (1024 * 1024), 0, 'f', 1);
    return QStringLiteral("%1 KB").arg((bytes + 1023) / 1024);
}

// When the extension says nothing, the first bytes often do.
QString sniffKind(const QByteArray& bytes) {
    if (bytes.startsWith("%PDF-")) return QStringLiteral("pdf");
    if (bytes.startsWith("PK\x03\x04")) {
        if (bytes.mid(30, 8) == "mimetype" && bytes.indexOf("opendocument.text") >= 0 && bytes.indexOf("opendocument.text") < 100)
            return QStringLiteral("odt");
        if (bytes.indexOf("word/") >= 0) return QStringLiteral("docx");
        return QStringLiteral("unsupported:it is a ZIP archive, not a document");
    }
    const QByteArray head = bytes.left(512).trimmed().toLower();
    if (head.startsWith("<!doctype html") || head.startsWith("<html")) return QStringLiteral("html");
    return QStringLiteral("text");
}

}  // namespace

QString kindForFileName(const QString& fileName) {
    const QString ext = QFileInfo(fileName).suffix().toLower();
    if (ext == QLatin1String("pdf")) return QStringLiteral("pdf");
    if (ext == QLatin1String("docx") || ext == QLatin1String("docm")) return QStringLiteral("docx");
    if (ext == QLatin1String("odt")) return QStringLiteral("odt");
    if (ext == QLatin1String("html") || ext == QLatin1String("htm") || ext == QLatin1String("xhtml")) return QStringLiteral("html");
    if (ext == QLatin1String("md") || ext == QLatin1String("markdown")) return QStringLiteral("markdown");
    if (sourceExtensions().contains(ext)) return QStringLiteral("source");
    if (textExtensions().contains(ext)) return QStringLiteral("text");
    if (auto it = unsupported().find(ext); it != unsupported().end()) return QStringLiteral("unsupported:") + *it;
    return {};
}

QStringList supportedPatterns() {
    QStringList p = {"*.pdf", "*.docx", "*.odt", "*.html", "*.htm", "*.md", "*.markdown"};
    for (const QString& e : textExtensions()) p << QStringLiteral("*.") + e;
    for (const QString& e : sourceExtensions()) p << QStringLiteral("*.") + e;
    return p;
}

history::Result<Document> readDocument(const QString& path, const ReadOptions& options) {
    const QFileInfo info(path);
    const QString name = info.fileName().isEmpty() ? path : info.fileName();
    auto failure = [&](const QString& why) { return history::Result<Document>::failure(name + QStringLiteral(": ") + why); };

    if (!info.exists()) return failure(QStringLiteral("no such file"));
    if (info.isDir()) return failure(QStringLiteral("it is a folder, not a file"));
    if (info.size() > options.maxBytes)
        return failure(QStringLiteral("the file is too large (%1; the limit is %2)").arg(sizeText(info.size()), sizeText(options.maxBytes)));
    if (info.size() == 0) return failure(QStringLiteral("the file is empty"));

    QString kind = kindForFileName(name);
    if (kind.startsWith(QLatin1String("unsupported:"))) return failure(kind.mid(12));

    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return failure(QStringLiteral("cannot be read (%1)").arg(f.errorString()));
    const QByteArray bytes = f.readAll();
    if (f.error() != QFileDevice::NoError) return failure(QStringLiteral("cannot be read (%1)").arg(f.errorString()));
    if (bytes.size() > options.maxBytes)  // it grew since the size check
        return failure(QStringLiteral("the file is too large (the limit is %1)").arg(sizeText(options.maxBytes)));
    if (bytes.isEmpty()) return failure(QStringLiteral("the file is empty"));

    if (kind.isEmpty()) {
        kind = sniffKind(bytes);
        if (kind.startsWith(QLatin1String("unsupported:"))) return failure(kind.mid(12));
    }

    detail::Extracted ex;
    QString error;
    if (kind == QLatin1String("pdf")) error = detail::readPdf(bytes, &ex);
    else if (kind == QLatin1String("docx")) error = detail::readDocx(bytes, &ex);
    else if (kind == QLatin1String("odt")) error = detail::readOdt(bytes, &ex);
    else if (kind == QLatin1String("html")) error = detail::readHtml(bytes, &ex);
    else error = detail::readText(bytes, kind, &ex);
    if (!error.isEmpty()) {
        if (kindForFileName(name).isEmpty() && error.contains(QLatin1String("binary")))
            error = QStringLiteral("unsupported file type (it contains binary data, not text)");
        return failure(error);
    }
    bool anyText = false;
    for (const Segment& s : ex.segments) anyText = anyText || !s.text.trimmed().isEmpty();
    if (!anyText) return failure(QStringLiteral("it contains no text"));

    Document doc;
    doc.path = info.absoluteFilePath();
    doc.fileName = name;
    doc.kind = kind;
    doc.mimeType = ex.mimeType;
    doc.sha256 = QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex());
    doc.sizeBytes = bytes.size();
    doc.pageCount = ex.pageCount;
    doc.segments = std::move(ex.segments);
    return doc;
}

}  // namespace ld::documents
