#include "app/settings/app_settings.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <algorithm>

namespace ld::settings {

namespace {
const chat::SamplingConfig kDefaults;
}

AppSettings::AppSettings(QObject* parent)
    : QObject(parent), s_(std::make_unique<QSettings>(QStringLiteral("LlamaDesk"), QStringLiteral("llamadesk"))) {}

AppSettings::AppSettings(const QString& iniPath, QObject* parent)
    : QObject(parent), s_(std::make_unique<QSettings>(iniPath, QSettings::IniFormat)) {}

QVariant AppSettings::read(const char* key, const QVariant& fallback) const {
    return s_->value(QLatin1String(key), fallback);
}

void AppSettings::write(const char* key, const QVariant& value) {
    if (s_->value(QLatin1String(key)) == value) return;
    s_->setValue(QLatin1String(key), value);
    s_->sync();
    emit changed();
}

QString AppSettings::modelPath() const { return read("model/path", {}).toString(); }
QStringList AppSettings::extraModels() const { return read("model/extra", {}).toStringList(); }
QString AppSettings::backend() const { return read("engine/backend", QStringLiteral("auto")).toString(); }
QString AppSettings::device() const { return read("engine/device", QString()).toString(); }
int AppSettings::threads() const { return read("engine/threads", 0).toInt(); }
int AppSettings::contextLength() const { return read("engine/context", 4096).toInt(); }
double AppSettings::temperature() const { return read("sampling/temperature", kDefaults.temperature).toDouble(); }
int AppSettings::topK() const { return read("sampling/top_k", kDefaults.topK).toInt(); }
double AppSettings::topP() const { return read("sampling/top_p", kDefaults.topP).toDouble(); }
double AppSettings::minP() const { return read("sampling/min_p", kDefaults.minP).toDouble(); }
double AppSettings::repeatPenalty() const { return read("sampling/repeat_penalty", kDefaults.repeatPenalty).toDouble(); }
int AppSettings::maxTokens() const { return read("sampling/max_tokens", kDefaults.maxTokens).toInt(); }
QString AppSettings::systemPrompt() const {
    return read("chat/system_prompt", QStringLiteral("You are a helpful assistant.")).toString();
}
QString AppSettings::theme() const { return read("ui/theme", QStringLiteral("system")).toString(); }
QString AppSettings::speedUp() const {
    const QString v = read("engine/speed_up", QStringLiteral("off")).toString();
    return v == QLatin1String("lookup") || v == QLatin1String("draft") ? v : QStringLiteral("off");
}
QString AppSettings::draftModelPath() const { return read("engine/draft_model", QString()).toString(); }

void AppSettings::setModelPath(const QString& v) { write("model/path", v); }
void AppSettings::setExtraModels(const QStringList& v) { write("model/extra", v); }
void AppSettings::setBackend(const QString& v) {
    // A device index means something only within its backend.
    if (v != backend()) setDevice({});
    write("engine/backend", v);
}
void AppSettings::setDevice(const QString& v) { write("engine/device", v.trimmed()); }
void AppSettings::setThreads(int v) { write("engine/threads", std::clamp(v, 0, 256)); }
void AppSettings::setContextLength(int v) { write("engine/context", std::clamp(v, 256, 1 << 20)); }
void AppSettings::setTemperature(double v) { write("sampling/temperature", std::clamp(v, 0.0, 5.0)); }
void AppSettings::setTopK(int v) { write("sampling/top_k", std::max(0, v)); }
void AppSettings::setTopP(double v) { write("sampling/top_p", std::clamp(v, 0.01, 1.0)); }
void AppSettings::setMinP(double v) { write("sampling/min_p", std::clamp(v, 0.0, 0.99)); }
void AppSettings::setRepeatPenalty(double v) { write("sampling/repeat_penalty", std::clamp(v, 0.5, 3.0)); }
void AppSettings::setMaxTokens(int v) { write("sampling/max_tokens", std::clamp(v, 1, 1 << 20)); }
void AppSettings::setSystemPrompt(const QString& v) { write("chat/system_prompt", v); }
void AppSettings::setTheme(const QString& v) {
    if (v == QLatin1String("system") || v == QLatin1String("light") || v == QLatin1String("dark")) write("ui/theme", v);
}
void AppSettings::setSpeedUp(const QString& v) {
    if (v == QLatin1String("off") || v == QLatin1String("lookup") || v == QLatin1String("draft")) write("engine/speed_up", v);
}
void AppSettings::setDraftModelPath(const QString& v) { write("engine/draft_model", v); }

QUrl AppSettings::dialogFolder() const {
    const QString last = read("ui/dialog_folder", QString()).toString();
    if (!last.isEmpty() && QFileInfo(last).isDir()) return QUrl::fromLocalFile(last);
    const QString documents = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    if (!documents.isEmpty() && QFileInfo(documents).isDir()) return QUrl::fromLocalFile(documents);
    return QUrl::fromLocalFile(QDir::homePath());
}

void AppSettings::rememberDialogFolder(const QUrl& chosen) {
    if (!chosen.isLocalFile()) return;
    const QFileInfo info(chosen.toLocalFile());
    const QString folder = info.isDir() ? info.absoluteFilePath() : info.absolutePath();
    if (folder.isEmpty() || !QFileInfo(folder).isDir() || read("ui/dialog_folder", QString()).toString() == folder) return;
    s_->setValue(QStringLiteral("ui/dialog_folder"), folder);
    s_->sync();
    emit dialogFolderChanged();
}

QUrl AppSettings::dialogFile(const QString& name) const {
    return QUrl::fromLocalFile(QDir(dialogFolder().toLocalFile()).filePath(name));
}

QRect AppSettings::windowGeometry() const { return read("ui/window_geometry", QRect()).toRect(); }
bool AppSettings::windowMaximized() const { return read("ui/window_maximized", false).toBool(); }

void AppSettings::saveWindow(const QRect& normalGeometry, bool maximized) {
    if (normalGeometry.width() <= 0 || normalGeometry.height() <= 0) return;
    s_->setValue(QStringLiteral("ui/window_geometry"), normalGeometry);
    s_->setValue(QStringLiteral("ui/window_maximized"), maximized);
    s_->sync();
}

void AppSettings::addExtraModel(const QString& path) {
    QStringList list = extraModels();
    if (!list.contains(path)) setExtraModels(list << path);
}

void AppSettings::resetSampling() {
    setTemperature(kDefaults.temperature);
    setTopK(kDefaults.topK);
    setTopP(kDefaults.topP);
    setMinP(kDefaults.minP);
    setRepeatPenalty(kDefaults.repeatPenalty);
    setMaxTokens(kDefaults.maxTokens);
}

bool AppSettings::apiServerEnabled() const { return read("api_server/enabled", false).toBool(); }
int AppSettings::apiServerPort() const { return read("api_server/port", 8080).toInt(); }
bool AppSettings::apiServerAllowRemote() const { return read("api_server/allow_remote", false).toBool(); }
void AppSettings::setApiServerEnabled(bool v) { write("api_server/enabled", v); }
void AppSettings::setApiServerPort(int v) { write("api_server/port", std::clamp(v, 0, 65535)); }  // 0: any free port
void AppSettings::setApiServerAllowRemote(bool v) { write("api_server/allow_remote", v); }

chat::EngineConfig AppSettings::engineConfig() const {
    chat::EngineConfig c;
    c.modelPath = modelPath();
    c.backend = backend();
    c.device = device();
    c.threads = threads();
    c.contextLength = contextLength();
    c.speculation = speculation();
    return c;
}

chat::SpeculationConfig AppSettings::speculation() const {
    chat::SpeculationConfig c;
    c.mode = speedUp();
    c.draftModelPath = draftModelPath();
    return c;
}

chat::SamplingConfig AppSettings::sampling() const {
    chat::SamplingConfig c;
    c.temperature = temperature();
    c.topK = topK();
    c.topP = topP();
    c.minP = minP();
    c.repeatPenalty = repeatPenalty();
    c.maxTokens = maxTokens();
    return c;
}

QStringList AppSettings::availableBackends() const {
    QStringList b{QStringLiteral("auto"), QStringLiteral("cpu")};
#ifdef LLAMADESK_HAVE_VULKAN
    b << QStringLiteral("vulkan");
#endif
#ifdef LLAMADESK_HAVE_CUDA
    b << QStringLiteral("cuda");
#endif
    return b;
}

}  // namespace ld::settings
