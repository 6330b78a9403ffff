// The buttons' icons: every SVG in the binary's resources renders (needs Qt's svg image plugin,
// libqt6svg6, which the .deb depends on), every iconName the QML uses has its SVG, and no QML
// text uses an emoji or symbol glyph as an icon (they show as empty boxes without an emoji font).
#include <QDir>
#include <QFile>
#include <QIcon>
#include <QImage>
#include <QImageReader>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

namespace {

const QString kIcons = QStringLiteral(":/llamadesk/icons/ui");
const QString kQml = QStringLiteral(":/llamadesk/qml");

QStringList qmlFiles() {
    QStringList out;
    for (const QString& name : QDir(kQml).entryList({QStringLiteral("*.qml")}, QDir::Files))
        out << kQml + QLatin1Char('/') + name;
    return out;
}

QString readText(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll());
}

// Emoji and pictographic symbols, plus the symbol blocks used as makeshift icons (arrows,
// mathematical operators such as "⋯", technical symbols, geometric shapes, dingbats such as "✕",
// miscellaneous symbols such as "⚠"). Typographic punctuation (… — · “ ”) is text and allowed.
bool isIconGlyph(char32_t c) {
    return (c >= 0x2190 && c <= 0x2BFF) || c >= 0x1F000 || c == 0xFE0F || c == 0x20E3;
}

}  // namespace

class TestUiIcons : public QObject {
    Q_OBJECT
private slots:
    void everyIconRenders() {
        const QStringList icons = QDir(kIcons).entryList({QStringLiteral("*.svg")}, QDir::Files);
        QVERIFY2(icons.size() >= 10, qPrintable(QStringLiteral("only %1 icons in %2").arg(icons.size()).arg(kIcons)));
        QVERIFY2(QImageReader::supportedImageFormats().contains("svg"),
                 "Qt's svg image plugin is missing (Debian: libqt6svg6)");
        for (const QString& name : icons) {
            const QString path = kIcons + QLatin1Char('/') + name;
            QImageReader reader(path);
            QCOMPARE(reader.format(), QByteArray("svg"));
            reader.setScaledSize(QSize(48, 48));
            const QImage image = reader.read();
            QVERIFY2(!image.isNull(), qPrintable(path + QStringLiteral(": ") + reader.errorString()));
            // The strokes are drawn: some pixels are opaque, and most of the square is not.
            int opaque = 0;
            for (int y = 0; y < image.height(); ++y)
                for (int x = 0; x < image.width(); ++x)
                    if (qAlpha(image.pixel(x, y)) > 128) ++opaque;
            QVERIFY2(opaque > 20 && opaque < 48 * 48 / 2, qPrintable(QStringLiteral("%1: %2 opaque pixels").arg(path).arg(opaque)));
            QVERIFY2(!QIcon(path).pixmap(32, 32).isNull(), qPrintable(path));
        }
        QVERIFY(QFile::exists(kIcons + QStringLiteral("/paperclip.svg")));
    }

    void qmlIconNamesExist() {
        // iconName: "x" or iconName: cond ? "a" : "b": every quoted name on the line.
        const QRegularExpression line(QStringLiteral("^\\s*iconName:(.*)$"));
        const QRegularExpression quoted(QStringLiteral("\"([^\"]*)\""));
        QSet<QString> used;
        for (const QString& file : qmlFiles()) {
            for (const QString& text : readText(file).split(QLatin1Char('\n'))) {
                const QRegularExpressionMatch m = line.match(text);
                if (!m.hasMatch()) continue;
                for (const auto& q : quoted.globalMatch(m.captured(1))) {
                    const QString name = q.captured(1);
                    if (name.isEmpty()) continue;
                    used.insert(name);
                    QVERIFY2(QFile::exists(kIcons + QLatin1Char('/') + name + QStringLiteral(".svg")),
                             qPrintable(QStringLiteral("%1 uses icon \"%2\", which is not in %3").arg(file, name, kIcons)));
                }
            }
        }
        // The composer's paperclip and the banner's close button at least.
        QVERIFY2(used.contains(QStringLiteral("paperclip")) && used.contains(QStringLiteral("x")),
                 qPrintable(QStringList(used.values()).join(QLatin1Char(' '))));
    }

    void noGlyphIconsInQml() {
        const QStringList files = qmlFiles();
        QVERIFY(files.size() >= 10);
        QStringList found;
        for (const QString& file : files) {
            const QStringList lines = readText(file).split(QLatin1Char('\n'));
            for (int i = 0; i < lines.size(); ++i) {
                if (lines[i].trimmed().startsWith(QLatin1String("//"))) continue;  // comments may show them
                for (char32_t c : lines[i].toUcs4())
                    if (isIconGlyph(c)) {
                        found << QStringLiteral("%1:%2: U+%3 in %4").arg(file).arg(i + 1).arg(uint(c), 4, 16, QLatin1Char('0')).arg(lines[i].trimmed());
                        break;
                    }
            }
        }
        QVERIFY2(found.isEmpty(), qPrintable(found.join(QLatin1Char('\n'))));
    }

    // The check itself: it must see the glyphs the app used to have, and pass typography.
    void glyphCheckRecognisesIcons() {
        for (const QString& s : {QStringLiteral("📎"), QStringLiteral("⋯"), QStringLiteral("✕"), QStringLiteral("⚠")})
            QVERIFY2(isIconGlyph(s.toUcs4().first()), qPrintable(s));
        for (const QString& s : {QStringLiteral("…"), QStringLiteral("—"), QStringLiteral("·"), QStringLiteral("“"), QStringLiteral("é")})
            QVERIFY2(!isIconGlyph(s.toUcs4().first()), qPrintable(s));
    }
};

QTEST_MAIN(TestUiIcons)
#include "test_ui_icons.moc"
