// The welcome page's recommendation against the embedded catalog: machines of 1 to 32 GiB of
// RAM, with and without a GPU, each get the expected entry (or a clear "none fits"), and the
// rules hold on a synthetic catalog too.
#include <QTest>

#include "app/models/model_recommend.h"

using namespace ld::models;

namespace {

constexpr qint64 GiB = qint64(1) << 30;

MachineInfo machine(double ramGiB, double vramGiB = 0) {
    MachineInfo m;
    m.ramBytes = qint64(ramGiB * double(GiB));
    m.vramBytes = qint64(vramGiB * double(GiB));
    if (vramGiB > 0) m.gpuName = QStringLiteral("Test GPU");
    return m;
}

CatalogEntry entry(const QString& id, const QString& params, qint64 size, qint64 ram, qint64 vram) {
    CatalogEntry e;
    e.id = id;
    e.name = id;
    e.quant = QStringLiteral("Q");
    e.parameters = params;
    e.sizeBytes = size;
    e.ramBytes = ram;
    e.vramBytes = vram;
    return e;
}

}  // namespace

class TestModelsRecommend : public QObject {
    Q_OBJECT
private:
    QList<CatalogEntry> catalog_;

    QString pick(const MachineInfo& m, bool* onGpu = nullptr, QString* reason = nullptr) {
        const Recommendation r = recommendModel(catalog_, m);
        if (onGpu) *onGpu = r.onGpu;
        if (reason) *reason = r.reason;
        return r.found() ? catalog_.at(r.index).id : QStringLiteral("none");
    }

private slots:
    void initTestCase() {
        QString error;
        catalog_ = builtinCatalog(&error);
        QVERIFY2(!catalog_.isEmpty(), qPrintable(error));
    }

    void recommendsForMachines_data() {
        QTest::addColumn<double>("ram");
        QTest::addColumn<double>("vram");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<bool>("onGpu");
        // CPU only: the largest model within 85% of the RAM, its smallest quantization.
        QTest::newRow("4 GiB") << 4.0 << 0.0 << "llama-3.2-3b-instruct-q4_k_m" << false;
        QTest::newRow("8 GiB") << 8.0 << 0.0 << "llama-3.1-8b-instruct-q4_k_m" << false;
        QTest::newRow("16 GiB") << 16.0 << 0.0 << "llama-3.1-8b-instruct-q4_k_m" << false;
        QTest::newRow("32 GiB") << 32.0 << 0.0 << "llama-3.1-8b-instruct-q4_k_m" << false;
        QTest::newRow("2 GiB") << 2.0 << 0.0 << "llama-3.2-1b-instruct-q4_k_m" << false;
        // A "8 GB" machine reports a little less than 8 GiB: still the 8B.
        QTest::newRow("7.6 GiB") << 7.6 << 0.0 << "llama-3.1-8b-instruct-q4_k_m" << false;
        // With a GPU: the most precise quantization that fits its memory.
        QTest::newRow("4 GiB + 8 GiB GPU") << 4.0 << 8.0 << "llama-3.1-8b-instruct-q4_k_m" << true;
        QTest::newRow("8 GiB + 4 GiB GPU") << 8.0 << 4.0 << "llama-3.1-8b-instruct-q4_k_m" << false;
        QTest::newRow("16 GiB + 6 GiB GPU") << 16.0 << 6.0 << "llama-3.1-8b-instruct-q4_k_m" << true;
        QTest::newRow("16 GiB + 12 GiB GPU") << 16.0 << 12.0 << "llama-3.1-8b-instruct-q8_0" << true;
        QTest::newRow("32 GiB + 24 GiB GPU") << 32.0 << 24.0 << "llama-3.1-8b-instruct-q8_0" << true;
        QTest::newRow("4 GiB + 2 GiB GPU") << 4.0 << 2.0 << "llama-3.2-3b-instruct-q4_k_m" << false;
        QTest::newRow("4 GiB + 4 GiB GPU") << 4.0 << 4.0 << "llama-3.2-3b-instruct-q4_k_m" << true;
        // The GPU's memory is what counts when the RAM is small.
        QTest::newRow("1 GiB + 2 GiB GPU") << 1.0 << 2.0 << "llama-3.2-1b-instruct-q4_k_m" << true;
        // Too small for anything.
        QTest::newRow("1 GiB") << 1.0 << 0.0 << "none" << false;
        QTest::newRow("1 GiB + 1 GiB GPU") << 1.0 << 1.0 << "none" << false;
    }
    void recommendsForMachines() {
        QFETCH(double, ram);
        QFETCH(double, vram);
        QFETCH(QString, expected);
        QFETCH(bool, onGpu);
        bool gpu = false;
        QString reason;
        QCOMPARE(pick(machine(ram, vram), &gpu, &reason), expected);
        QCOMPARE(gpu, onGpu);
        QVERIFY(!reason.isEmpty());
        if (onGpu) QVERIFY2(reason.contains(QLatin1String("Test GPU")), qPrintable(reason));
    }

    void noneFitsSaysWhy() {
        QString reason;
        QCOMPARE(pick(machine(1.0), nullptr, &reason), QStringLiteral("none"));
        QVERIFY2(reason.contains(QLatin1String("No model in the catalog fits")), qPrintable(reason));
        QVERIFY2(reason.contains(QLatin1String("1.0 GB of memory")), qPrintable(reason));
        // It names the smallest entry and what that needs.
        QVERIFY2(reason.contains(QLatin1String("Llama 3.2 1B Instruct")), qPrintable(reason));
        QVERIFY2(reason.contains(QLatin1String("1.3 GB")), qPrintable(reason));

        const Recommendation empty = recommendModel({}, machine(32));
        QVERIFY(!empty.found());
        QVERIFY(empty.reason.contains(QLatin1String("empty")));
    }

    void unknownMemoryOffersTheSmallest() {
        QString reason;
        QCOMPARE(pick(MachineInfo{}, nullptr, &reason), QStringLiteral("llama-3.2-1b-instruct-q4_k_m"));
        QVERIFY2(reason.contains(QLatin1String("could not be read")), qPrintable(reason));
    }

    void rulesOnSyntheticCatalog() {
        // Catalog order does not matter; parameters win over quantization; ties on the CPU go
        // to the smaller file, on the GPU to the larger file that fits.
        const qint64 G = 1'000'000'000;
        catalog_ = {entry(QStringLiteral("small-q8"), QStringLiteral("1.5B"), 2 * G, 2 * G, 2 * G),
                    entry(QStringLiteral("big-q8"), QStringLiteral("7B"), 8 * G, 9 * G, 9 * G),
                    entry(QStringLiteral("big-q4"), QStringLiteral("7B"), 4 * G, 5 * G, 5 * G),
                    entry(QStringLiteral("odd"), QStringLiteral("unknown"), 1 * G, 1 * G, 1 * G)};
        QCOMPARE(pick(machine(16)), QStringLiteral("big-q4"));
        QCOMPARE(pick(machine(16, 16)), QStringLiteral("big-q8"));
        QCOMPARE(pick(machine(16, 8)), QStringLiteral("big-q4"));
        QCOMPARE(pick(machine(4)), QStringLiteral("small-q8"));
        QCOMPARE(pick(machine(1.5)), QStringLiteral("odd"));
        initTestCase();  // the embedded catalog back for any later test

        QCOMPARE(parameterCount(QStringLiteral("8B")), 8e9);
        QCOMPARE(parameterCount(QStringLiteral("1.5B")), 1.5e9);
        QCOMPARE(parameterCount(QStringLiteral("500M")), 5e8);
        QCOMPARE(parameterCount(QStringLiteral("8x7B")), 0.0);
        QCOMPARE(parameterCount(QString()), 0.0);
    }

    void probeReadsThisMachine() {
        // Whatever the machine, it has RAM; a GPU, when listed, has a name and memory.
        const MachineInfo m = probeMachine();
        QVERIFY(m.ramBytes > 0);
        QCOMPARE(m.vramBytes > 0, !m.gpuName.isEmpty());
    }
};

QTEST_MAIN(TestModelsRecommend)
#include "test_models_recommend.moc"
