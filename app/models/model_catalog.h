#pragma once
// The catalog of downloadable models (resources/models/catalog.json, embedded as
// :/llamadesk/models/catalog.json) and how each compares with this machine's memory.
#include <QList>
#include <QString>
#include <QUrl>

namespace ld::models {

struct CatalogEntry {
    QString id;                 // unique, stable ("llama-3.2-1b-instruct-q4_k_m")
    QString name;               // "Llama 3.2 1B Instruct"
    QString quant;              // "Q4_K_M"
    QString parameters;         // "1B"
    int contextLength = 0;
    QString repository;         // "bartowski/Llama-3.2-1B-Instruct-GGUF"
    QUrl url;
    QString fileName;           // the URL's last segment: what lands in the models folder
    qint64 sizeBytes = 0;
    bool sizeApproximate = false;
    QString sha256;             // empty when not known
    QString license;
    QUrl licenseUrl;
    qint64 ramBytes = 0;        // to run on the CPU
    qint64 vramBytes = 0;       // to run fully on a GPU
    QString description;
};

// Parses and validates a catalog; on any problem returns an empty list and sets *error to a
// one-line reason naming the entry.
QList<CatalogEntry> parseCatalog(const QByteArray& json, QString* error);
// The embedded catalog (validated by the tests, so it never fails in a release).
QList<CatalogEntry> builtinCatalog(QString* error = nullptr);

struct MemoryInfo {
    qint64 totalBytes = 0;      // MemTotal
    qint64 availableBytes = 0;  // MemAvailable
};
// /proc/meminfo (zeros when unreadable).
MemoryInfo readMemoryInfo();
MemoryInfo parseMemInfo(const QByteArray& procMeminfo);

enum class Fit { Fits, Tight, TooBig, Unknown };
// Fits: needs at most 85% of RAM (room for the OS and the app). Tight: fits RAM but not what
// is free right now. TooBig: more than 85% of RAM.
Fit fitInMemory(qint64 neededBytes, const MemoryInfo& mem);
QString fitName(Fit f);   // "fits" | "tight" | "too_big" | "unknown"

}  // namespace ld::models
