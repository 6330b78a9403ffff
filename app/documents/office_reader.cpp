// DOCX (word/document.xml) and ODT (content.xml): paragraphs as text, headings as sections.
#include <QXmlStreamReader>

#include "app/documents/readers_internal.h"

namespace ld::documents::detail {

namespace {

// Paragraphs grouped into one segment per heading.
class SectionBuilder {
public:
    void paragraph(const QString& text, bool heading) {
        const QString t = text.trimmed();
        if (heading && !t.isEmpty()) {
            flush();
            section_ = t.simplified();
        }
        if (t.isEmpty()) return;
        if (!cur_.isEmpty()) cur_ += QStringLiteral("\n\n");
        cur_ += t;
    }
    QList<Segment> finish() {
        flush();
        return segments_;
    }

private:
    void flush() {
        if (!cur_.isEmpty()) segments_.append(Segment{cur_, 0, section_, 0, 0});
        cur_.clear();
    }
    QString cur_, section_;
    QList<Segment> segments_;
};

bool isOle(const QByteArray& bytes) { return bytes.startsWith("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"); }

QString xmlError(const QXmlStreamReader& xml, const char* entry) {
    return QStringLiteral("the file is damaged (%1: %2)").arg(QLatin1String(entry), xml.errorString());
}

}  // namespace

QString readDocx(const QByteArray& bytes, Extracted* out) {
    out->mimeType = QStringLiteral("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    // Word saves a password-protected DOCX inside an OLE container, like the old .doc format.
    if (isOle(bytes)) return QStringLiteral("the document is password-protected (encrypted) or in the old binary Word format");
    QByteArray xmlBytes;
    if (QString e = readZipEntry(bytes, "word/document.xml", &xmlBytes); !e.isEmpty()) return e;

    QXmlStreamReader xml(xmlBytes);
    SectionBuilder sections;
    QString para;
    bool heading = false, inPara = false;
    int skipDepth = 0;  // inside deleted text or field instructions
    int cellDepth = 0;  // inside a table cell
    QString row;        // the table row being read
    while (!xml.atEnd()) {
        const auto tok = xml.readNext();
        const QStringView name = xml.name();
        if (tok == QXmlStreamReader::StartElement) {
            if (skipDepth) {
                ++skipDepth;
                continue;
            }
            if (name == u"tc") {
                ++cellDepth;
            } else if (name == u"p") {
                if (cellDepth > 0 && !row.isEmpty() && !row.endsWith(QLatin1Char('\t'))) row += QLatin1Char(' ');
                inPara = true;
                heading = false;
                para.clear();
            } else if (name == u"pStyle") {
                const QString style = xml.attributes().value(QStringLiteral("w:val")).toString().toLower();
                heading = style.contains(QLatin1String("heading")) || style == QLatin1String("title");
            } else if (name == u"outlineLvl") {
                heading = true;
            } else if (name == u"t") {
                para += xml.readElementText();
            } else if (name == u"tab") {
                para += QLatin1Char('\t');
            } else if (name == u"br" || name == u"cr") {
                para += QLatin1Char('\n');
            } else if (name == u"del" || name == u"instrText" || name == u"delText") {
                skipDepth = 1;
            }
        } else if (tok == QXmlStreamReader::EndElement) {
            if (skipDepth) {
                --skipDepth;
                continue;
            }
            if (name == u"p" && inPara) {
                inPara = false;
                // Table cells side by side, one row per paragraph.
                if (cellDepth > 0) row += para;
                else sections.paragraph(para, heading);
            } else if (name == u"tc" && cellDepth > 0) {
                --cellDepth;
                row += QLatin1Char('\t');
            } else if (name == u"tr") {
                while (row.endsWith(QLatin1Char('\t'))) row.chop(1);
                sections.paragraph(row, false);
                row.clear();
            }
        }
    }
    if (xml.hasError()) return xmlError(xml, "word/document.xml");
    out->segments = sections.finish();
    return {};
}

QString readOdt(const QByteArray& bytes, Extracted* out) {
    out->mimeType = QStringLiteral("application/vnd.oasis.opendocument.text");
    QByteArray manifest;
    bool noManifest = false;
    if (QString e = readZipEntry(bytes, "META-INF/manifest.xml", &manifest, &noManifest); !e.isEmpty() && !noManifest)
        return e;
    // An encrypted ODF package keeps its manifest readable and says so there.
    if (manifest.contains("encryption-data")) return QStringLiteral("the document is password-protected (encrypted)");
    QByteArray xmlBytes;
    if (QString e = readZipEntry(bytes, "content.xml", &xmlBytes); !e.isEmpty()) return e;

    QXmlStreamReader xml(xmlBytes);
    SectionBuilder sections;
    QString para;
    int paraDepth = 0;   // text:p / text:h nest (inside frames, notes)
    bool heading = false;
    int skipDepth = 0;   // annotations and notes' citation marks
    while (!xml.atEnd()) {
        const auto tok = xml.readNext();
        const QStringView name = xml.name();
        if (tok == QXmlStreamReader::StartElement) {
            if (skipDepth) {
                ++skipDepth;
                continue;
            }
            if (name == u"p" || name == u"h") {
                if (paraDepth++ == 0) {
                    para.clear();
                    heading = name == u"h";
                }
            } else if (name == u"s") {
                const int c = xml.attributes().value(QStringLiteral("text:c")).toInt();
                para += QString(std::max(1, c), QLatin1Char(' '));
            } else if (name == u"tab") {
                para += QLatin1Char('\t');
            } else if (name == u"line-break") {
                para += QLatin1Char('\n');
            } else if (name == u"note-body") {
                para += QLatin1Char(' ');  // a footnote's text follows the sentence it annotates
            } else if (name == u"annotation" || name == u"note-citation" || name == u"tracked-changes") {
                skipDepth = 1;
            }
        } else if (tok == QXmlStreamReader::EndElement) {
            if (skipDepth) {
                --skipDepth;
                continue;
            }
            if ((name == u"p" || name == u"h") && paraDepth > 0 && --paraDepth == 0)
                sections.paragraph(para, heading);
        } else if (tok == QXmlStreamReader::Characters && paraDepth > 0 && !skipDepth) {
            para += xml.text();
        }
    }
    if (xml.hasError()) return xmlError(xml, "content.xml");
    out->segments = sections.finish();
    return {};
}

}  // namespace ld::documents::detail
