// Extraction speed per reader (MB/s of input file), for benchmarks/documents.md. Runs only with
// LLAMADESK_BENCH=1 (it writes ~100 MB of temporary files); LLAMADESK_BENCH_PDF=PATH keeps the
// 100-page PDF it makes, for timing `llamadesk-cli summarize` on it.
#include <QElapsedTimer>
#include <QPainter>
#include <QPdfWriter>
#include <QTemporaryDir>
#include <QtTest>
#include <zip.h>

#include "app/documents/document_reader.h"

using namespace ld::documents;

namespace {

QString paragraph(int i) {
    return QStringLiteral("Paragraph %1. The committee reviewed the budget for the harbour project and agreed to "
                          "extend the pier by forty metres, subject to the environmental survey due in spring. "
                          "Grüße, naïve café — 日本語.").arg(i);
}

void zipWrite(const QString& path, const QList<QPair<QByteArray, QByteArray>>& entries) {
    int err = 0;
    zip_t* z = zip_open(path.toLocal8Bit().constData(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    QVERIFY(z);
    for (const auto& [name, data] : entries) {
        zip_source_t* s = zip_source_buffer(z, data.constData(), zip_uint64_t(data.size()), 0);
        QVERIFY(zip_file_add(z, name.constData(), s, ZIP_FL_OVERWRITE) >= 0);
    }
    QVERIFY(zip_close(z) == 0);
}

}  // namespace

class DocumentBench : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    void measure(const QString& label, const QString& path) {
        const qint64 bytes = QFileInfo(path).size();
        QElapsedTimer t;
        t.start();
        const auto r = readDocument(path, ReadOptions{1LL << 32});
        const double s = t.nsecsElapsed() / 1e9;
        QVERIFY2(r.ok(), qPrintable(r.error()));
        const qint64 chars = r->fullText().size();
        qInfo("%-10s %8.1f MB file, %9lld chars text, %7.3f s, %7.1f MB/s", qPrintable(label), bytes / 1e6, chars, s, bytes / 1e6 / s);
    }

private slots:
    void initTestCase() {
        if (qEnvironmentVariable("LLAMADESK_BENCH") != QLatin1String("1")) QSKIP("set LLAMADESK_BENCH=1 to run the document benchmarks");
    }

    void readers() {
        QString text;
        for (int i = 0; i < 60000; ++i) text += paragraph(i) + QStringLiteral("\n\n");
        {
            QFile f(dir_.filePath("big.txt"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text.toUtf8());
        }
        measure("text", dir_.filePath("big.txt"));
        {
            QFile f(dir_.filePath("big.md"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            for (int i = 0; i < 60000; ++i) {
                if (i % 20 == 0) f.write(QStringLiteral("## Section %1\n\n").arg(i / 20).toUtf8());
                f.write((paragraph(i) + QStringLiteral("\n\n")).toUtf8());
            }
        }
        measure("markdown", dir_.filePath("big.md"));
        {
            QFile f(dir_.filePath("big.html"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("<!DOCTYPE html><html><head><style>p{}</style></head><body>");
            for (int i = 0; i < 60000; ++i) {
                if (i % 20 == 0) f.write(QStringLiteral("<h2>Section %1</h2>").arg(i / 20).toUtf8());
                f.write((QStringLiteral("<p class=\"x\">") + paragraph(i).toHtmlEscaped() + QStringLiteral(" &amp; <b>bold</b></p>\n")).toUtf8());
            }
            f.write("</body></html>");
        }
        measure("html", dir_.filePath("big.html"));

        QByteArray docx = "<?xml version=\"1.0\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>";
        QByteArray odt = "<?xml version=\"1.0\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
                         "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"><office:body><office:text>";
        for (int i = 0; i < 60000; ++i) {
            const QByteArray p = paragraph(i).toHtmlEscaped().toUtf8();
            if (i % 20 == 0) {
                docx += "<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Section " + QByteArray::number(i / 20) + "</w:t></w:r></w:p>";
                odt += "<text:h text:outline-level=\"1\">Section " + QByteArray::number(i / 20) + "</text:h>";
            }
            docx += "<w:p><w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">" + p + "</w:t></w:r></w:p>";
            odt += "<text:p>" + p + "</text:p>";
        }
        docx += "</w:body></w:document>";
        odt += "</office:text></office:body></office:document-content>";
        zipWrite(dir_.filePath("big.docx"), {{"word/document.xml", docx}});
        measure("docx", dir_.filePath("big.docx"));
        zipWrite(dir_.filePath("big.odt"), {{"mimetype", "application/vnd.oasis.opendocument.text"},
                                            {"META-INF/manifest.xml", "<manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\"/>"},
                                            {"content.xml", odt}});
        measure("odt", dir_.filePath("big.odt"));
    }

    void pdf100Pages() {
        const QString keep = qEnvironmentVariable("LLAMADESK_BENCH_PDF");
        const QString path = keep.isEmpty() ? dir_.filePath("100.pdf") : keep;
        {
            QPdfWriter writer(path);
            QPainter painter(&writer);
            QFont font(QStringLiteral("DejaVu Sans"));
            font.setPointSize(10);
            painter.setFont(font);
            const QRect page = painter.viewport();
            int i = 0;
            for (int p = 1; p <= 100; ++p) {
                if (p > 1) writer.newPage();
                // About 500 words a page, like a dense report.
                QString body;
                for (int k = 0; k < 14; ++k) body += paragraph(i++) + QStringLiteral("\n\n");
                painter.drawText(page.adjusted(600, 600, -600, -600), Qt::TextWordWrap, body);
            }
        }
        measure("pdf-100p", path);
        const auto r = readDocument(path);
        QCOMPARE(r->pageCount, 100);
    }
};

QTEST_MAIN(DocumentBench)
#include "test_documents_bench.moc"
