#pragma once
// Helpers shared by the CLI's Qt commands (history, models, summarize).
#include <QString>

#include <string>

namespace ld::cli {

// Qt's SQL driver plugins, QtNetwork and the thread pool need an application object, and main()
// is Qt-free: the first Qt command creates one that lives until the process exits.
void ensure_qt_application();

inline QString qs(const std::string& s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }

}  // namespace ld::cli
