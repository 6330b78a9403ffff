#include "app/models/model_catalog.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>

#include "app/models/model_download.h"

namespace ld::models {

namespace {

bool fail(QString* error, const QString& text) {
    if (error) *error = text;
    return false;
}

bool parseEntry(const QJsonObject& o, int index, CatalogEntry* e, QString* error) {
    const QString where = QStringLiteral("catalog entry %1").arg(index + 1);
    auto str = [&](const char* key, QString* out) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (!v.isString() || v.toString().trimmed().isEmpty())
            return fail(error, QStringLiteral("%1: \"%2\" must be a non-empty string").arg(where, QLatin1String(key)));
        *out = v.toString().trimmed();
        return true;
    };
    auto bytes = [&](const char* key, qint64* out) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (!v.isDouble() || v.toDouble() <= 0 || v.toDouble() > 1e15)
            return fail(error, QStringLiteral("%1: \"%2\" must be a positive byte count").arg(where, QLatin1String(key)));
        *out = qint64(v.toDouble());
        return true;
    };
    QString url, licenseUrl;
    if (!str("id", &e->id) || !str("name", &e->name) || !str("quant", &e->quant) || !str("parameters", &e->parameters) ||
        !str("repository", &e->repository) || !str("url", &url) || !str("license", &e->license) ||
        !str("licenseUrl", &licenseUrl) || !bytes("sizeBytes", &e->sizeBytes) || !bytes("ramBytes", &e->ramBytes) ||
        !bytes("vramBytes", &e->vramBytes))
        return false;
    e->url = QUrl(url, QUrl::StrictMode);
    if (!e->url.isValid() || e->url.scheme() != QLatin1String("https") || e->url.host().isEmpty())
        return fail(error, QStringLiteral("%1 (%2): url must be an https URL").arg(where, e->id));
    e->licenseUrl = QUrl(licenseUrl, QUrl::StrictMode);
    if (!e->licenseUrl.isValid() || e->licenseUrl.scheme() != QLatin1String("https"))
        return fail(error, QStringLiteral("%1 (%2): licenseUrl must be an https URL").arg(where, e->id));
    e->fileName = ModelDownload::fileNameForUrl(e->url);
    if (!e->fileName.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive))
        return fail(error, QStringLiteral("%1 (%2): url must name a .gguf file").arg(where, e->id));
    const QJsonValue sha = o.value(QLatin1String("sha256"));
    if (sha.isString() && !sha.toString().isEmpty()) {
        e->sha256 = sha.toString().toLower();
        if (!QRegularExpression(QStringLiteral("^[0-9a-f]{64}$")).match(e->sha256).hasMatch())
            return fail(error, QStringLiteral("%1 (%2): sha256 must be 64 hex digits or null").arg(where, e->id));
    } else if (!sha.isNull() && !sha.isUndefined() && !(sha.isString() && sha.toString().isEmpty())) {
        return fail(error, QStringLiteral("%1 (%2): sha256 must be 64 hex digits or null").arg(where, e->id));
    }
    e->sizeApproximate = o.value(QLatin1String("sizeApproximate")).toBool(false);
    e->contextLength = o.value(QLatin1String("contextLength")).toInt(0);
    e->description = o.value(QLatin1String("description")).toString();
    return true;
}

}  // namespace

QList<CatalogEntry> parseCatalog(const QByteArray& json, QString* error) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError) {
        fail(error, QStringLiteral("catalog is not valid JSON: %1 at offset %2").arg(pe.errorString()).arg(pe.offset));
        return {};
    }
    const QJsonObject root = doc.object();
    if (root.value(QLatin1String("version")).toInt() != 1) {
        fail(error, QStringLiteral("catalog version must be 1"));
        return {};
    }
    const QJsonValue models = root.value(QLatin1String("models"));
    if (!models.isArray() || models.toArray().isEmpty()) {
        fail(error, QStringLiteral("catalog has no \"models\" array"));
        return {};
    }
    QList<CatalogEntry> out;
    QSet<QString> ids, files;
    const QJsonArray arr = models.toArray();
    for (int i = 0; i < arr.size(); ++i) {
        if (!arr[i].isObject()) {
            fail(error, QStringLiteral("catalog entry %1 is not an object").arg(i + 1));
            return {};
        }
        CatalogEntry e;
        if (!parseEntry(arr[i].toObject(), i, &e, error)) return {};
        if (ids.contains(e.id) || files.contains(e.fileName)) {
            fail(error, QStringLiteral("catalog entry %1 (%2) repeats an id or file name").arg(i + 1).arg(e.id));
            return {};
        }
        ids.insert(e.id);
        files.insert(e.fileName);
        out.append(e);
    }
    return out;
}

QList<CatalogEntry> builtinCatalog(QString* error) {
    QFile f(QStringLiteral(":/llamadesk/models/catalog.json"));
    if (!f.open(QIODevice::ReadOnly)) {
        fail(error, QStringLiteral("the built-in model catalog is missing"));
        return {};
    }
    return parseCatalog(f.readAll(), error);
}

MemoryInfo parseMemInfo(const QByteArray& text) {
    MemoryInfo m;
    for (const QByteArray& line : text.split('\n')) {
        const QList<QByteArray> parts = line.simplified().split(' ');
        if (parts.size() < 2) continue;
        const qint64 kb = parts[1].toLongLong();
        if (parts[0] == "MemTotal:") m.totalBytes = kb * 1024;
        else if (parts[0] == "MemAvailable:") m.availableBytes = kb * 1024;
    }
    return m;
}

MemoryInfo readMemoryInfo() {
    QFile f(QStringLiteral("/proc/meminfo"));
    // /proc files report size 0: read until EOF.
    if (!f.open(QIODevice::ReadOnly)) return {};
    return parseMemInfo(f.readAll());
}

Fit fitInMemory(qint64 needed, const MemoryInfo& mem) {
    if (mem.totalBytes <= 0 || needed <= 0) return Fit::Unknown;
    if (double(needed) > 0.85 * double(mem.totalBytes)) return Fit::TooBig;
    if (mem.availableBytes > 0 && needed > mem.availableBytes) return Fit::Tight;
    return Fit::Fits;
}

QString fitName(Fit f) {
    switch (f) {
    case Fit::Fits: return QStringLiteral("fits");
    case Fit::Tight: return QStringLiteral("tight");
    case Fit::TooBig: return QStringLiteral("too_big");
    case Fit::Unknown: return QStringLiteral("unknown");
    }
    return {};
}

}  // namespace ld::models
