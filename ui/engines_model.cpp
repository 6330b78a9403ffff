#include "ui/engines_model.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QTimer>
#include <QUrl>
#include <QtConcurrent>

#include "app/remote/keychain_secret_store.h"
#include "app/remote/remote_client.h"

namespace ld::ui {

namespace {
// A test should answer while the user looks at it, not wait like a long generation.
remote::RemoteEndpoint forTest(remote::RemoteEndpoint ep) {
    ep.connectTimeoutMs = 5000;
    ep.firstByteTimeoutMs = 10000;
    ep.idleTimeoutMs = 10000;
    ep.maxRetries = 0;
    return ep;
}
constexpr int kShownModels = 5;
}  // namespace

EnginesModel::EnginesModel(remote::EngineRegistry* registry, remote::KeychainSecretStore* keychain, QObject* parent)
    : QAbstractListModel(parent), registry_(registry), keychain_(keychain) {
    // Tests of several engines at once; leaving waits for the running ones (their timeouts
    // above bound that).
    pool_.setMaxThreadCount(4);
    for (const remote::EngineEntry& e : registry_->engines()) rows_.append(Row{e});
    if (keychain_) {
        // Keys read at start-up arrive after the list is shown; "checking" becomes a verdict.
        connect(keychain_, &remote::KeychainSecretStore::keysChanged, this, &EnginesModel::refreshKeys);
        connect(keychain_, &remote::KeychainSecretStore::stateChanged, this, [this] {
            emit keyStorageChanged();
            refreshKeys();
            runTests();
        });
        connect(keychain_, &remote::KeychainSecretStore::settled, this, [this] {
            runTests();
            // Once for all the keys read at start-up: the picker lists the engines again, now
            // with their keys (it asked without them).
            if (std::exchange(keysArrived_, false)) emit enginesChanged();
        });
    }
}

int EnginesModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

QVariant EnginesModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& r = rows_[index.row()];
    switch (role) {
    case Qt::DisplayRole:
    case NameRole: return r.entry.name;
    case EngineIdRole: return r.entry.id;
    case BaseUrlRole: return r.entry.baseUrl.toString();
    case CaFileRole: return r.entry.caFile;
    case HasKeyRole: return r.entry.hasKey;
    case TestingRole: return r.testing;
    case TestedRole: return r.tested;
    case TestOkRole: return r.ok;
    case TestResultRole: return r.result;
    default: return {};
    }
}

QHash<int, QByteArray> EnginesModel::roleNames() const {
    return {{EngineIdRole, "engineId"}, {NameRole, "name"},       {BaseUrlRole, "baseUrl"},
            {CaFileRole, "caFile"},     {HasKeyRole, "hasKey"},   {TestingRole, "testing"},
            {TestedRole, "tested"},     {TestOkRole, "testOk"},   {TestResultRole, "testResult"}};
}

QVariantList EnginesModel::presets() const {
    QVariantList out;
    for (const remote::EnginePreset& p : remote::enginePresets())
        out.append(QVariantMap{{QStringLiteral("kind"), p.kind},
                               {QStringLiteral("label"), p.label},
                               {QStringLiteral("baseUrl"), p.baseUrl.toString()},
                               {QStringLiteral("help"), p.help}});
    return out;
}

QString EnginesModel::keyStorage() const {
    if (!keychain_) return QStringLiteral("session");
    switch (keychain_->state()) {
    case remote::KeychainSecretStore::State::Checking: return QStringLiteral("checking");
    case remote::KeychainSecretStore::State::Keyring: return QStringLiteral("keyring");
    case remote::KeychainSecretStore::State::SessionOnly: break;
    }
    return QStringLiteral("session");
}

QString EnginesModel::keyStorageNote() const {
    const QString storage = keyStorage();
    if (storage == QLatin1String("checking")) return tr("Looking for the desktop keyring…");
    if (storage == QLatin1String("keyring")) return tr("API keys are kept in the desktop keyring, never in the settings file.");
    const QString why = keychain_ ? keychain_->unavailableReason() : QString();
    return why.isEmpty() ? tr("No desktop keyring: keys are kept for this session only.")
                         : tr("No desktop keyring (%1): keys are kept for this session only.").arg(why);
}

QString EnginesModel::localPath(const QString& fileOrUrl) {
    const QString t = fileOrUrl.trimmed();
    if (t.startsWith(QLatin1String("file:"))) return QUrl(t).toLocalFile();
    return t;
}

QString EnginesModel::add(const QString& name, const QString& baseUrl, const QString& apiKey, const QString& caFile) {
    const QString ca = localPath(caFile);
    if (!ca.isEmpty() && !QFileInfo(ca).isFile()) return tr("the CA file %1 does not exist").arg(ca);
    QString error;
    const QString id = registry_->add(name, baseUrl, apiKey.trimmed(), ca, &error);
    if (id.isEmpty()) return error;
    // The registry appends; read the entry back as it saved it (name trimmed, URL normalized).
    for (const remote::EngineEntry& e : registry_->engines()) {
        if (e.id != id) continue;
        beginInsertRows({}, int(rows_.size()), int(rows_.size()));
        rows_.append(Row{e});
        endInsertRows();
    }
    emit countChanged();
    emit enginesChanged();
    return {};
}

QString EnginesModel::setApiKey(int row, const QString& apiKey) {
    if (row < 0 || row >= rows_.size()) return tr("no such engine");
    QString error;
    if (!registry_->setApiKey(rows_[row].entry.id, apiKey.trimmed(), &error)) return error;
    rows_[row].entry.hasKey = !apiKey.trimmed().isEmpty();
    rows_[row].tested = false;  // the last test was made with the old key
    rows_[row].result.clear();
    const QModelIndex i = index(row);
    emit dataChanged(i, i);
    emit enginesChanged();
    return {};
}

void EnginesModel::remove(int row) {
    if (row < 0 || row >= rows_.size()) return;
    const QString id = rows_[row].entry.id;
    registry_->remove(id);
    waitingForKeys_.remove(id);
    beginRemoveRows({}, row, row);
    rows_.removeAt(row);
    endRemoveRows();
    emit countChanged();
    emit enginesChanged();
}

void EnginesModel::reload() {
    beginResetModel();
    rows_.clear();
    for (const remote::EngineEntry& e : registry_->engines()) rows_.append(Row{e});
    endResetModel();
    emit countChanged();
}

int EnginesModel::rowOf(const QString& id) const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].entry.id == id) return i;
    return -1;
}

void EnginesModel::refreshKeys() {
    const QList<remote::EngineEntry> now = registry_->engines();
    for (const remote::EngineEntry& e : now) {
        const int row = rowOf(e.id);
        if (row < 0 || rows_[row].entry.hasKey == e.hasKey) continue;
        rows_[row].entry.hasKey = e.hasKey;
        keysArrived_ = true;
        const QModelIndex i = index(row);
        emit dataChanged(i, i, {HasKeyRole});
    }
}

void EnginesModel::testConnection(int row) {
    if (row < 0 || row >= rows_.size()) return;
    Row& r = rows_[row];
    r.testing = true;
    r.tested = false;
    r.result.clear();
    const QModelIndex i = index(row);
    emit dataChanged(i, i);
    // The key comes from the keychain's cache; while the keyring is still answering its first
    // reads, the test waits for them (a test without the key would fail with 401 for nothing).
    if (keychain_ && (keychain_->state() == remote::KeychainSecretStore::State::Checking || keychain_->jobsInFlight() > 0)) {
        waitingForKeys_.insert(r.entry.id);
        QTimer::singleShot(remote::KeychainSecretStore::kReadWaitMs, this, &EnginesModel::runTests);
        return;
    }
    startTest(r.entry.id);
}

void EnginesModel::runTests() {
    const QSet<QString> waiting = std::exchange(waitingForKeys_, {});
    for (const QString& id : waiting) startTest(id);
}

void EnginesModel::startTest(const QString& id) {
    const int row = rowOf(id);
    if (row < 0) return;
    const std::optional<remote::RemoteEndpoint> ep = registry_->endpoint(id);
    if (!ep) return;
    const quint64 generation = nextGeneration_++;
    rows_[row].testGeneration = generation;
    listModels(forTest(*ep), [this, id, generation](const remote::ModelList& list) {
        const int r = rowOf(id);
        if (r < 0 || rows_[r].testGeneration != generation) return;  // removed, or tested again
        Row& row = rows_[r];
        row.testing = false;
        row.tested = true;
        row.ok = list.error.isEmpty();
        row.result = describeModels(list);
        const QModelIndex i = index(r);
        emit dataChanged(i, i);
        emit tested(id, row.ok, row.result);
    });
}

void EnginesModel::testDraft(const QString& baseUrl, const QString& apiKey, const QString& caFile) {
    const quint64 generation = ++draftGeneration_;
    remote::RemoteEndpoint ep;
    QString error;
    ep.baseUrl = remote::parseBaseUrl(baseUrl, &error);
    ep.apiKey = apiKey.trimmed();
    ep.caFile = localPath(caFile);
    if (!ep.caFile.isEmpty() && !QFileInfo(ep.caFile).isFile()) error = tr("the CA file %1 does not exist").arg(ep.caFile);
    if (!error.isEmpty()) {
        draftTesting_ = false;
        draftOk_ = false;
        draftResult_ = error;
        emit draftChanged();
        return;
    }
    draftTesting_ = true;
    draftResult_.clear();
    emit draftChanged();
    listModels(forTest(ep), [this, generation](const remote::ModelList& list) {
        if (generation != draftGeneration_) return;  // the form was tested again since
        draftTesting_ = false;
        draftOk_ = list.error.isEmpty();
        draftResult_ = describeModels(list);
        emit draftChanged();
    });
}

EnginesModel::~EnginesModel() {
    closing_->store(true);
    pool_.waitForDone();  // within ~20 ms: every call polls closing_
}

void EnginesModel::listModels(remote::RemoteEndpoint ep, std::function<void(const remote::ModelList&)> done) {
    // The watcher is this model's child: when the model goes first, nothing is delivered.
    auto* watcher = new QFutureWatcher<remote::ModelList>(this);
    connect(watcher, &QFutureWatcher<remote::ModelList>::finished, this, [watcher, done = std::move(done)] {
        done(watcher->result());
        watcher->deleteLater();
    });
    watcher->setFuture(QtConcurrent::run(&pool_, [ep = std::move(ep), closing = closing_] {
        return remote::RemoteClient(ep).models(closing.get());
    }));
}

QString EnginesModel::describeModels(const remote::ModelList& list) {
    if (!list.error.isEmpty()) return list.error;
    if (list.models.isEmpty()) return tr("Connected, but the server lists no models.");
    QStringList ids;
    for (int i = 0; i < list.models.size() && i < kShownModels; ++i) ids << list.models[i].id;
    QString text = list.models.size() == 1 ? tr("1 model: %1").arg(ids.first())
                                           : tr("%1 models: %2").arg(list.models.size()).arg(ids.join(QStringLiteral(", ")));
    if (list.models.size() > kShownModels) text += QStringLiteral(", …");
    return text;
}

}  // namespace ld::ui
