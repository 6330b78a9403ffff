// The catalog (embedded, validated, memory fit) and the local models: scanning a folder with a
// good, a truncated, a non-GGUF and a non-Llama file; too big for the machine's memory; the
// watched folder picking up added and removed files; add by copy or reference; remove.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/models/local_models.h"
#include "app/models/model_catalog.h"
#include "app/models/model_library.h"
#include "inference/gguf/gguf_writer.h"
#include "inference/model/llama.h"

using namespace ld::models;

namespace {

QString sharedModel() { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf"); }

bool writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

const LocalModel* find(const QList<LocalModel>& list, const QString& file) {
    for (const LocalModel& m : list)
        if (m.fileName == file) return &m;
    return nullptr;
}

MemoryInfo plenty() { return {64ll << 30, 32ll << 30}; }

}  // namespace

class TestModelsLocal : public QObject {
    Q_OBJECT
private slots:
    void builtinCatalogIsValid() {
        QString error;
        const QList<CatalogEntry> c = builtinCatalog(&error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(c.size(), 4);
        QStringList files;
        for (const CatalogEntry& e : c) {
            files << e.fileName;
            QCOMPARE(e.url.scheme(), QStringLiteral("https"));
            QCOMPARE(e.url.host(), QStringLiteral("huggingface.co"));
            QVERIFY(e.sizeBytes > 100'000'000);
            QVERIFY(e.ramBytes > e.sizeBytes / 2);
            QVERIFY(e.licenseUrl.isValid());
            QVERIFY(e.sha256.isEmpty() || e.sha256.size() == 64);
        }
        QVERIFY(files.contains(QStringLiteral("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")));
        QVERIFY(files.contains(QStringLiteral("Meta-Llama-3.1-8B-Instruct-Q8_0.gguf")));
        QVERIFY(files.contains(QStringLiteral("Llama-3.2-3B-Instruct-Q4_K_M.gguf")));
        QVERIFY(files.contains(QStringLiteral("Llama-3.2-1B-Instruct-Q4_K_M.gguf")));
    }

    void catalogValidation_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("expected");
        const QByteArray ok = R"({"id":"a","name":"A","quant":"Q4_K_M","parameters":"1B","repository":"r",
            "url":"https://h/x.gguf","license":"L","licenseUrl":"https://h/l","sizeBytes":10,"ramBytes":20,"vramBytes":20)";
        QTest::newRow("not json") << QByteArray("{") << "not valid JSON";
        QTest::newRow("version") << QByteArray(R"({"version":2,"models":[]})") << "version";
        QTest::newRow("empty") << QByteArray(R"({"version":1,"models":[]})") << "no \"models\"";
        QTest::newRow("http url") << QByteArray(R"({"version":1,"models":[)" + QByteArray(ok).replace("https://h/x", "http://h/x") + "}]}")
                                  << "https";
        QTest::newRow("bad sha") << QByteArray(R"({"version":1,"models":[)" + ok + R"(,"sha256":"abc"}]})") << "64 hex";
        QTest::newRow("no size") << QByteArray(R"({"version":1,"models":[)" + QByteArray(ok).replace("\"sizeBytes\":10,", "") + "}]}")
                                 << "sizeBytes";
        QTest::newRow("duplicate") << QByteArray(R"({"version":1,"models":[)" + ok + "}," + ok + "}]}") << "repeats";
        QTest::newRow("valid") << QByteArray(R"({"version":1,"models":[)" + ok + R"(,"sha256":null}]})") << QString();
    }

    void catalogValidation() {
        QFETCH(QByteArray, json);
        QFETCH(QString, expected);
        QString error;
        const auto list = parseCatalog(json, &error);
        if (expected.isEmpty()) {
            QVERIFY2(error.isEmpty(), qPrintable(error));
            QCOMPARE(list.size(), 1);
        } else {
            QVERIFY(list.isEmpty());
            QVERIFY2(error.contains(expected), qPrintable(error));
        }
    }

    void memoryFit() {
        const MemoryInfo m = parseMemInfo("MemTotal:       16000000 kB\nMemFree: 1 kB\nMemAvailable:    8000000 kB\n");
        QCOMPARE(m.totalBytes, 16000000ll * 1024);
        QCOMPARE(m.availableBytes, 8000000ll * 1024);
        QCOMPARE(fitInMemory(6'000'000'000, m), Fit::Fits);
        QCOMPARE(fitInMemory(9'700'000'000, m), Fit::Tight);
        QCOMPARE(fitInMemory(15'000'000'000, m), Fit::TooBig);
        QVERIFY(readMemoryInfo().totalBytes > 0);  // this machine's /proc/meminfo
    }

    void scansGoodTruncatedAndForeignFiles() {
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir dir;
        const QByteArray gguf = readAll(sharedModel());
        QVERIFY(writeFile(dir.filePath(QStringLiteral("good.gguf")), gguf));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("truncated.gguf")), gguf.left(gguf.size() / 2)));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("notes.gguf")), "this is not a model\n"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("ignored.txt")), "not listed"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("partial.gguf.part")), gguf.left(1000)));
        {
            ld::gguf::Writer w;
            w.set_string("general.architecture", "gpt2");
            w.set_string("general.name", "Some GPT-2");
            w.set_u32("gpt2.context_length", 1024);
            static const float weights[8] = {};
            w.add_tensor("token_embd.weight", ld::GgmlType::F32, {4, 2}, weights);
            w.write(dir.filePath(QStringLiteral("gpt2.gguf")).toStdString());
        }

        QElapsedTimer t;
        t.start();
        const QList<LocalModel> list = scanModels(dir.path(), {}, plenty());
        const qint64 ms = t.elapsed();
        QCOMPARE(list.size(), 4);  // *.gguf only
        QVERIFY2(ms < 2000, qPrintable(QString::number(ms)));

        const LocalModel* good = find(list, QStringLiteral("good.gguf"));
        QVERIFY(good);
        QVERIFY2(good->loadable, qPrintable(good->problem));
        QCOMPARE(good->architecture, QStringLiteral("llama"));
        QCOMPARE(good->contextLength, 512);
        QCOMPARE(good->quantType, QStringLiteral("F32"));
        QVERIFY(good->parameters > 200000 && good->parameters < 300000);
        QCOMPARE(good->sizeBytes, qint64(gguf.size()));
        QVERIFY(good->inModelsFolder);

        const LocalModel* truncated = find(list, QStringLiteral("truncated.gguf"));
        QVERIFY(truncated && !truncated->loadable);
        QCOMPARE(truncated->problemKind, QStringLiteral("truncated"));
        QVERIFY2(truncated->problem.contains(QLatin1String("truncated")), qPrintable(truncated->problem));
        // Only the header is read, so a download cut off in the weights still says what it is.
        QCOMPARE(truncated->architecture, QStringLiteral("llama"));
        QCOMPARE(truncated->name, good->name);
        QCOMPARE(truncated->parameters, good->parameters);
        QCOMPARE(truncated->quantType, good->quantType);
        QCOMPARE(truncated->contextLength, 512);

        const LocalModel* notes = find(list, QStringLiteral("notes.gguf"));
        QVERIFY(notes && !notes->loadable);
        QCOMPARE(notes->problemKind, QStringLiteral("not_gguf"));

        const LocalModel* gpt2 = find(list, QStringLiteral("gpt2.gguf"));
        QVERIFY(gpt2 && !gpt2->loadable);
        QCOMPARE(gpt2->problemKind, QStringLiteral("not_llama"));
        QCOMPARE(gpt2->architecture, QStringLiteral("gpt2"));
        QCOMPARE(gpt2->contextLength, 1024);
        QVERIFY2(gpt2->problem.contains(QLatin1String("gpt2")), qPrintable(gpt2->problem));

        // JSON carries the verdict and the reason.
        const QJsonObject j = toJson(*truncated);
        QCOMPARE(j.value(QStringLiteral("loadable")).toBool(), false);
        QCOMPARE(j.value(QStringLiteral("problem_kind")).toString(), QStringLiteral("truncated"));
    }

    // The listing reads headers only, yet describes every reference model exactly as loading it
    // does (the description the app showed when it loaded whole models to list them).
    void listingMatchesLoadedModels() {
        const QString models = QStringLiteral(LLAMADESK_SHARED_DIR "/models");
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models (reference models folder absent)");
        int checked = 0;
        for (const QString& folder : {models, models + QStringLiteral("/k256")}) {
            const QList<LocalModel> list = scanModels(folder, {}, plenty());
            QVERIFY(!list.isEmpty());
            for (const LocalModel& m : list) {
                const auto loaded = ld::load_model(m.path.toStdString());
                QVERIFY2(m.loadable, qPrintable(m.fileName + QStringLiteral(": ") + m.problem));
                QCOMPARE(m.name, QString::fromStdString(loaded->name));
                QCOMPARE(m.architecture, QStringLiteral("llama"));
                QCOMPARE(m.parameters, qint64(loaded->parameter_count()));
                QCOMPARE(m.quantType, QString::fromStdString(loaded->dominant_type()));
                QCOMPARE(m.contextLength, loaded->params.ctx_train);
                QCOMPARE(m.sizeBytes, QFileInfo(m.path).size());
                QVERIFY(!m.chatTemplate.isEmpty());
                ++checked;
            }
        }
        QVERIFY(checked >= 13);  // 2 in models/, 11 in models/k256/
        const LocalModel q4 = inspectModel(models + QStringLiteral("/k256/tiny-llama-k256-Q4_K_M.gguf"), plenty());
        QCOMPARE(q4.quantType, QStringLiteral("Q4_K"));
        const LocalModel llama31 = inspectModel(models + QStringLiteral("/tiny-llama31-random-f16.gguf"), plenty());
        QCOMPARE(llama31.chatTemplate, QStringLiteral("llama3"));
    }

    // A damaged header is listed with a reason, never a crash: counts the file cannot hold, an
    // absurd string length, a file cut inside its header.
    void corruptHeadersListedWithAReason() {
        QTemporaryDir dir;
        auto header = [](quint64 tensors, quint64 kvs) {
            QByteArray b("GGUF", 4);
            const quint32 version = 3;
            b.append(reinterpret_cast<const char*>(&version), 4);
            b.append(reinterpret_cast<const char*>(&tensors), 8);
            b.append(reinterpret_cast<const char*>(&kvs), 8);
            return b;
        };
        QVERIFY(writeFile(dir.filePath(QStringLiteral("counts.gguf")), header(quint64(1) << 62, quint64(1) << 62)));
        QByteArray longKey = header(0, 1);
        const quint64 len = quint64(1) << 61;
        longKey.append(reinterpret_cast<const char*>(&len), 8).append(64, 'k');
        QVERIFY(writeFile(dir.filePath(QStringLiteral("key.gguf")), longKey));
        if (QFile::exists(sharedModel()))
            QVERIFY(writeFile(dir.filePath(QStringLiteral("cut.gguf")), readAll(sharedModel()).left(3000)));
        const QList<LocalModel> list = scanModels(dir.path(), {}, plenty());
        QVERIFY(list.size() >= 2);
        for (const LocalModel& m : list) {
            QVERIFY2(!m.loadable, qPrintable(m.fileName));
            QVERIFY2(!m.problemKind.isEmpty() && !m.problem.isEmpty(), qPrintable(m.fileName));
            QVERIFY2(!m.problem.contains(m.path), qPrintable(m.problem));  // the row already names the file
        }
        QVERIFY2(find(list, QStringLiteral("key.gguf"))->problem.contains(QLatin1String("absurd length")),
                 qPrintable(find(list, QStringLiteral("key.gguf"))->problem));
        if (const LocalModel* cut = find(list, QStringLiteral("cut.gguf")))
            QCOMPARE(cut->problemKind, QStringLiteral("truncated"));
    }

    void tooBigForMemory() {
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        const LocalModel m = inspectModel(sharedModel(), MemoryInfo{100'000'000, 50'000'000});
        QVERIFY(!m.loadable);
        QCOMPARE(m.problemKind, QStringLiteral("too_big"));
        QVERIFY2(m.problem.contains(QLatin1String("memory")), qPrintable(m.problem));
        QCOMPARE(m.architecture, QStringLiteral("llama"));  // metadata still shown
    }

    void libraryWatchesAddsAndRemoves() {
        if (!QFile::exists(sharedModel())) LD_QSKIP_OR_FAIL_IN_CI("needs " LLAMADESK_SHARED_DIR "/models/stories260K.gguf (reference models folder absent)");
        QTemporaryDir root;
        const QString folder = root.filePath(QStringLiteral("models"));
        ModelLibrary lib(folder);
        QSignalSpy changed(&lib, &ModelLibrary::modelsChanged);
        QVERIFY(QTest::qWaitFor([&] { return changed.count() >= 1 && !lib.scanning(); }, 10000));
        QCOMPARE(lib.models().size(), 0);

        // A file dropped into the folder by hand appears by itself.
        QVERIFY(QFile::copy(sharedModel(), QDir(folder).filePath(QStringLiteral("dropped.gguf"))));
        QVERIFY(QTest::qWaitFor([&] { return lib.models().size() == 1 && !lib.scanning(); }, 10000));
        QVERIFY(lib.models().first().loadable);

        // Copy in.
        QSignalSpy added(&lib, &ModelLibrary::addFinished);
        QVERIFY(QFile::copy(sharedModel(), root.filePath(QStringLiteral("outside.gguf"))));
        lib.addCopy(root.filePath(QStringLiteral("outside.gguf")));
        QVERIFY(added.wait(10000));
        QCOMPARE(added.first().at(1).toString(), QString());
        QVERIFY(QTest::qWaitFor([&] { return lib.models().size() == 2 && !lib.scanning(); }, 10000));
        lib.addCopy(root.filePath(QStringLiteral("outside.gguf")));  // already there
        QCOMPARE(added.size(), 2);
        QVERIFY(added.last().at(1).toString().contains(QLatin1String("already")));

        // Reference where it lies.
        QSignalSpy refs(&lib, &ModelLibrary::referencesChanged);
        lib.addReference(root.filePath(QStringLiteral("outside.gguf")));
        QCOMPARE(refs.count(), 1);
        QVERIFY(QTest::qWaitFor([&] { return lib.models().size() == 3 && !lib.scanning(); }, 10000));
        const LocalModel* ref = nullptr;
        for (const LocalModel& m : lib.models())
            if (!m.inModelsFolder) ref = &m;
        QVERIFY(ref);

        // Removing a reference keeps the file; removing from the folder deletes it.
        QString error;
        QVERIFY(lib.remove(root.filePath(QStringLiteral("outside.gguf")), &error));
        QVERIFY(QFile::exists(root.filePath(QStringLiteral("outside.gguf"))));
        // A download's checksum record goes with its file.
        const QString record = QDir(folder).filePath(QStringLiteral("dropped.gguf.download.json"));
        {
            QFile r(record);
            QVERIFY(r.open(QIODevice::WriteOnly));
            r.write("{}");
        }
        QVERIFY(lib.remove(QDir(folder).filePath(QStringLiteral("dropped.gguf")), &error));
        QVERIFY(!QFile::exists(QDir(folder).filePath(QStringLiteral("dropped.gguf"))));
        QVERIFY(!QFile::exists(record));
        QVERIFY(QTest::qWaitFor([&] { return lib.models().size() == 1 && !lib.scanning(); }, 10000));
        QVERIFY(!lib.remove(QStringLiteral("/etc/hostname"), &error));
        QVERIFY(error.contains(QLatin1String("not in the models folder")));
    }
};

QTEST_GUILESS_MAIN(TestModelsLocal)
#include "test_models_local.moc"
