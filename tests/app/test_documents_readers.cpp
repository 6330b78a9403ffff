// Document readers on real files: text encodings, Markdown sections, HTML, PDFs written with
// QPdfWriter (page numbers kept) and PDFs Debian installs, DOCX/ODT fixtures, and bad input
// (encrypted, corrupt, empty, binary, unsupported, too large) reported by file and reason.
#include <QDirIterator>
#include <QPainter>
#include <QPdfWriter>
#include <QTemporaryDir>
#include <QtTest>

#include "app/documents/document_reader.h"

using namespace ld::documents;

namespace {

const QString kFixtures = QStringLiteral(LLAMADESK_SOURCE_DIR "/tests/app/fixtures/documents/");

QString joined(const Document& d) { return d.fullText(); }

}  // namespace

class DocumentReadersTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    QString write(const QString& name, const QByteArray& bytes) {
        const QString path = dir_.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
        f.write(bytes);
        return path;
    }

    // A PDF with `pages` pages, each saying which page it is.
    QString makePdf(const QString& name, int pages) {
        const QString path = dir_.filePath(name);
        QPdfWriter writer(path);
        writer.setTitle(QStringLiteral("test"));
        QPainter painter(&writer);
        for (int p = 1; p <= pages; ++p) {
            if (p > 1) writer.newPage();
            painter.setFont(QFont(QStringLiteral("DejaVu Sans"), 12));
            painter.drawText(QPointF(200, 400), QStringLiteral("Marker page %1 zebra.").arg(p));
            painter.drawText(QPointF(200, 800), QStringLiteral("Second line of page %1.").arg(p));
        }
        painter.end();
        return path;
    }

    void expectFailure(const QString& path, const QString& reasonPart, const ReadOptions& o = {}) {
        const auto r = readDocument(path, o);
        QVERIFY2(!r.ok(), qPrintable(path));
        QVERIFY2(r.error().startsWith(QFileInfo(path).fileName() + QStringLiteral(": ")), qPrintable(r.error()));
        QVERIFY2(r.error().contains(reasonPart, Qt::CaseInsensitive), qPrintable(r.error()));
    }

private slots:
    void initTestCase() { QVERIFY(dir_.isValid()); }

    void utf8Text() {
        const auto r = readDocument(write("a.txt", "Hello wörld ✓ 😀\nline two\n\n\nnext paragraph\n"));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("text"));
        QVERIFY(joined(r.value()).contains(QStringLiteral("Hello wörld ✓ 😀")));
        QCOMPARE(r->segments.front().firstLine, 1);
        QCOMPARE(r->sha256.size(), 64);
    }

    void utf16WithBom() {
        const QString text = QStringLiteral("Grüße aus UTF-16 😀\nzweite Zeile");
        QByteArray le("\xFF\xFE", 2);
        le.append(reinterpret_cast<const char*>(text.utf16()), text.size() * 2);
        const auto r = readDocument(write("le.txt", le));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(joined(r.value()), text);
        QByteArray be("\xFE\xFF", 2);
        for (QChar c : text) {
            be.append(char(c.unicode() >> 8));
            be.append(char(c.unicode() & 0xFF));
        }
        const auto r2 = readDocument(write("be.txt", be));
        QVERIFY2(r2.ok(), qPrintable(r2.error()));
        QCOMPARE(joined(r2.value()), text);
    }

    void latin1Fallback() {
        const auto r = readDocument(write("l1.txt", QByteArray("Gr\xFC\xDF" "e aus K\xF6ln")));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(joined(r.value()), QStringLiteral("Grüße aus Köln"));
    }

    void utf8BomStripped() {
        const auto r = readDocument(write("bom.md", "\xEF\xBB\xBFplain"));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(joined(r.value()), QStringLiteral("plain"));
    }

    void markdownSections() {
        const auto r = readDocument(write("doc.md", "intro\n# First\ntext one\n```\n# not a heading\n```\n## Second ##\ntext two\n"));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("markdown"));
        QStringList sections;
        for (const Segment& s : r->segments) sections << s.section;
        QCOMPARE(sections, (QStringList{"", "First", "Second"}));
        QCOMPARE(r->segments[2].firstLine, 7);
    }

    void sourceLineRanges() {
        QByteArray code;
        for (int i = 1; i <= 150; ++i) code += "int f" + QByteArray::number(i) + "() { return " + QByteArray::number(i) + "; }\n";
        const auto r = readDocument(write("big.cpp", code));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("source"));
        QVERIFY(r->segments.size() >= 3);
        QCOMPARE(r->segments.front().firstLine, 1);
        QCOMPARE(r->segments.back().lastLine, 150);
        for (qsizetype i = 1; i < r->segments.size(); ++i)
            QCOMPARE(r->segments[i].firstLine, r->segments[i - 1].lastLine + 1);
    }

    void html() {
        const auto r = readDocument(kFixtures + "page.html");
        QVERIFY2(r.ok(), qPrintable(r.error()));
        const QString t = joined(r.value());
        QVERIFY2(t.contains(QStringLiteral("Birds & Bees")), qPrintable(t));
        QVERIFY2(t.contains(QStringLiteral("Swallows arrive in April; they leave in September.\nCafé été 🐦 <tag> &unknown;")), qPrintable(t));
        QVERIFY(!t.contains(QStringLiteral("not text")));
        QVERIFY(!t.contains(QStringLiteral("hidden")));
        QVERIFY(!t.contains(QStringLiteral("color")));
        QVERIFY(t.contains(QStringLiteral("  keep   spacing")));
        QVERIFY(t.contains(QStringLiteral("Honey bees\nBumble bees")));
        QStringList sections;
        for (const Segment& s : r->segments) sections << s.section;
        QVERIFY2(sections.contains(QStringLiteral("Birds & Bees")) && sections.contains(QStringLiteral("Bees")), qPrintable(sections.join('|')));
        const auto l1 = readDocument(kFixtures + "latin1.html");
        QVERIFY2(l1.ok(), qPrintable(l1.error()));
        QVERIFY2(joined(l1.value()).contains(QStringLiteral("Grüße aus Köln")), qPrintable(joined(l1.value())));
    }

    void pdfPagesKept() {
        const QString path = makePdf("five.pdf", 5);
        const auto r = readDocument(path);
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("pdf"));
        QCOMPARE(r->pageCount, 5);
        QCOMPARE(r->segments.size(), 5);
        for (int p = 1; p <= 5; ++p) {
            QCOMPARE(r->segments[p - 1].page, p);
            QVERIFY2(r->segments[p - 1].text.contains(QStringLiteral("Marker page %1 zebra.").arg(p)), qPrintable(r->segments[p - 1].text));
        }
    }

    void debianPdfs() {
        int read = 0;
        QDirIterator it(QStringLiteral("/usr/share/doc"), {QStringLiteral("*.pdf")}, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext() && read < 3) {
            const QString path = it.next();
            const auto r = readDocument(path);
            QVERIFY2(r.ok(), qPrintable(r.error()));
            QVERIFY(r->pageCount > 0);
            QVERIFY(!r->segments.isEmpty());
            QVERIFY(r->segments.back().page <= r->pageCount);
            ++read;
        }
        if (!read) QSKIP("no PDFs under /usr/share/doc on this machine");
    }

    void docx() {
        const auto r = readDocument(kFixtures + "report.docx");
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("docx"));
        const QString t = joined(r.value());
        QVERIFY2(t.contains(QStringLiteral("started in März and employs 42 people.")), qPrintable(t));
        QVERIFY(t.contains(QStringLiteral("Tabbed\tvalue\nnext line")));
        QVERIFY(!t.contains(QStringLiteral("deleted words")));
        QVERIFY(t.contains(QStringLiteral("Ünïcödé ✓ 日本語")));
        QVERIFY(t.contains(QStringLiteral("cell A\tcell B")));
        QStringList sections;
        for (const Segment& s : r->segments) sections << s.section;
        QCOMPARE(sections, (QStringList{"Quarterly Report", "Introduction", "Results", "Outlook"}));
    }

    void odt() {
        const auto r = readDocument(kFixtures + "notes.odt");
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("odt"));
        const QString t = joined(r.value());
        QVERIFY2(t.contains(QStringLiteral("Field trials ran  for three seasons. A footnote.")), qPrintable(t));
        QVERIFY(t.contains(QStringLiteral("Yield rose in dry years.\tÉlan.\nSecond line.")));
        QCOMPARE(r->segments.size(), 2);
        QCOMPARE(r->segments[1].section, QStringLiteral("Findings"));
    }

    void sniffsWithoutExtension() {
        QFile f(kFixtures + "report.docx");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto r = readDocument(write("noext", f.readAll()));
        QVERIFY2(r.ok(), qPrintable(r.error()));
        QCOMPARE(r->kind, QStringLiteral("docx"));
    }

    void badInput() {
        expectFailure(dir_.filePath("missing.pdf"), "no such file");
        expectFailure(write("empty.txt", ""), "empty");
        expectFailure(write("blob.dat", QByteArray("\x00\x01\x02\x03garbage\x00\xff", 13)), "binary");
        expectFailure(write("old.doc", "whatever"), "not supported");
        expectFailure(write("photo.png", "\x89PNG"), "images");
        expectFailure(kFixtures + "encrypted.docx", "password");
        expectFailure(kFixtures + "encrypted.odt", "password");
        expectFailure(kFixtures + "truncated.docx", "damaged");
        expectFailure(kFixtures + "empty.docx", "no text");
        expectFailure(write("fake.pdf", "this is not a pdf at all"), "not a PDF");
        expectFailure(write("broken.pdf", "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer garbage"), "PDF");
        ReadOptions small;
        small.maxBytes = 1024;
        expectFailure(write("big.txt", QByteArray(4096, 'a')), "too large", small);
        QDir().mkpath(dir_.filePath("folder.txt"));
        expectFailure(dir_.filePath("folder.txt"), "folder");
    }

    void encryptedPdf() {
        // Standard security handler with a user password: Poppler cannot open it without one.
        QByteArray pdf = "%PDF-1.4\n";
        QList<int> offsets;
        auto obj = [&](const QByteArray& body) {
            offsets << int(pdf.size());
            pdf += QByteArray::number(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
        };
        obj("<< /Type /Catalog /Pages 2 0 R >>");
        obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
        obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>");
        obj("<< /Filter /Standard /V 1 /R 2 /O <" + QByteArray(64, 'A') + "> /U <" + QByteArray(64, 'B') + "> /P -4 >>");
        const int xref = int(pdf.size());
        pdf += "xref\n0 5\n0000000000 65535 f \n";
        for (int o : offsets) pdf += QByteArray::number(o).rightJustified(10, '0') + " 00000 n \n";
        pdf += "trailer\n<< /Size 5 /Root 1 0 R /Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef><0123456789abcdef0123456789abcdef>] >>\nstartxref\n" +
               QByteArray::number(xref) + "\n%%EOF\n";
        expectFailure(write("locked.pdf", pdf), "password");
    }

    void imageOnlyPdf() {
        const QString path = dir_.filePath("blank.pdf");
        {
            QPdfWriter writer(path);
            QPainter painter(&writer);
            painter.fillRect(QRect(100, 100, 500, 500), Qt::black);
        }
        expectFailure(path, "no extractable text");
    }
};

QTEST_MAIN(DocumentReadersTest)
#include "test_documents_readers.moc"
