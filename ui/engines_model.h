#pragma once
// Settings → Engines: the remote engines of the EngineRegistry as a list for QML (name, base URL,
// whether a key is set), adding one (presets with their one-line help), changing its key,
// removing it, and "Test connection": the engine's /v1/models, listed on a pool thread and shown
// in the row (or in the add form, for an engine not saved yet) as the model ids or the error in
// plain words. Also where the keys are kept, for the page's note: the desktop keyring, or this
// session only.
#include <QAbstractListModel>
#include <QList>
#include <QSet>
#include <QThreadPool>
#include <atomic>
#include <memory>
#include <QVariantList>

#include "app/remote/engine_registry.h"

namespace ld::remote {
class KeychainSecretStore;
struct ModelList;
}

namespace ld::ui {

class EnginesModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ count NOTIFY countChanged)
    // [{kind, label, baseUrl, help}] from enginePresets().
    Q_PROPERTY(QVariantList presets READ presets CONSTANT)
    // "checking" | "keyring" | "session", and a sentence for the page.
    Q_PROPERTY(QString keyStorage READ keyStorage NOTIFY keyStorageChanged)
    Q_PROPERTY(QString keyStorageNote READ keyStorageNote NOTIFY keyStorageChanged)
    // The add form's test (an engine not saved yet).
    Q_PROPERTY(bool draftTesting READ draftTesting NOTIFY draftChanged)
    Q_PROPERTY(bool draftOk READ draftOk NOTIFY draftChanged)
    Q_PROPERTY(QString draftResult READ draftResult NOTIFY draftChanged)
public:
    enum Role {
        EngineIdRole = Qt::UserRole + 1,
        NameRole,
        BaseUrlRole,
        CaFileRole,
        HasKeyRole,
        TestingRole,     // a test is running
        TestedRole,      // a test has finished (testOk, testResult tell how)
        TestOkRole,
        TestResultRole,  // "2 models: a, b" or the error
    };
    // keychain: the store behind `registry` when it is the desktop keyring (its state and the
    // keys arriving are watched); null when the keys are kept in memory (session only).
    EnginesModel(remote::EngineRegistry* registry, remote::KeychainSecretStore* keychain, QObject* parent = nullptr);
    ~EnginesModel() override;  // cancels the tests of connections still running

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    int count() const { return int(rows_.size()); }
    QVariantList presets() const;
    QString keyStorage() const;
    QString keyStorageNote() const;
    bool draftTesting() const { return draftTesting_; }
    bool draftOk() const { return draftOk_; }
    QString draftResult() const { return draftResult_; }

    // Each returns "" on success, else the error in plain words. caFile: a path or a file:// URL.
    Q_INVOKABLE QString add(const QString& name, const QString& baseUrl, const QString& apiKey, const QString& caFile);
    Q_INVOKABLE QString setApiKey(int row, const QString& apiKey);
    Q_INVOKABLE void remove(int row);
    Q_INVOKABLE void testConnection(int row);
    Q_INVOKABLE void testDraft(const QString& baseUrl, const QString& apiKey, const QString& caFile);
    // Reads the list again (the settings changed elsewhere).
    Q_INVOKABLE void reload();

    // The text a finished test shows.
    static QString describeModels(const remote::ModelList& list);

signals:
    void countChanged();
    void keyStorageChanged();
    void draftChanged();
    void enginesChanged();  // added, removed, a key changed or arrived: the model picker lists again
    void tested(const QString& engineId, bool ok, const QString& result);

private:
    struct Row {
        remote::EngineEntry entry;
        bool testing = false;
        bool tested = false;
        bool ok = false;
        QString result;
        quint64 testGeneration = 0;
    };
    int rowOf(const QString& id) const;
    void refreshKeys();
    void startTest(const QString& id);
    void runTests();  // the tests waiting for the keychain's first answers
    // Lists the models of `ep` on pool_; `done` runs on this thread unless this is gone.
    void listModels(remote::RemoteEndpoint ep, std::function<void(const remote::ModelList&)> done);
    static QString localPath(const QString& fileOrUrl);

    // Its own threads for the blocking HTTP calls: on the global pool a server that takes its
    // time would hold the threads Qt's raster painting and other background work also use.
    // Set by the destructor: the calls on pool_ end within 20 ms instead of their timeouts.
    std::shared_ptr<std::atomic<bool>> closing_ = std::make_shared<std::atomic<bool>>(false);
    QThreadPool pool_;
    remote::EngineRegistry* registry_;
    remote::KeychainSecretStore* keychain_;
    QList<Row> rows_;
    QSet<QString> waitingForKeys_;
    quint64 nextGeneration_ = 1;
    bool draftTesting_ = false;
    bool draftOk_ = false;
    QString draftResult_;
    quint64 draftGeneration_ = 0;
    bool keysArrived_ = false;  // a key came from the keyring since the last settled()
};

}  // namespace ld::ui
