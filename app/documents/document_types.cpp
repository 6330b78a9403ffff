#include "app/documents/document_types.h"

namespace ld::documents {

QString Document::fullText() const {
    QString out;
    for (qsizetype i = 0; i < segments.size(); ++i) {
        if (i) out += segmentSeparator();
        out += segments[i].text;
    }
    return out;
}

void Span::extend(const Segment& s) {
    if (s.page) {
        if (!firstPage) firstPage = s.page;
        lastPage = s.page;
    }
    if (!s.section.isEmpty()) {
        if (firstSection.isEmpty()) firstSection = s.section;
        lastSection = s.section;
    }
    if (s.firstLine) {
        if (!firstLine) firstLine = s.firstLine;
        lastLine = std::max(lastLine, s.lastLine ? s.lastLine : s.firstLine);
    }
}

void Span::extend(const Span& o) {
    if (o.firstPage) {
        if (!firstPage) firstPage = o.firstPage;
        lastPage = o.lastPage;
    }
    if (!o.firstSection.isEmpty()) {
        if (firstSection.isEmpty()) firstSection = o.firstSection;
        lastSection = o.lastSection;
    }
    if (o.firstLine) {
        if (!firstLine) firstLine = o.firstLine;
        lastLine = std::max(lastLine, o.lastLine);
    }
}

QString Span::label() const {
    // Pages are the most useful place to look something up, then headings, then lines.
    if (firstPage) {
        if (firstPage == lastPage) return QStringLiteral("p. %1").arg(firstPage);
        return QStringLiteral("pp. %1–%2").arg(firstPage).arg(lastPage);
    }
    if (!firstSection.isEmpty()) {
        if (firstSection == lastSection) return QStringLiteral("§ %1").arg(firstSection);
        return QStringLiteral("§ %1 – § %2").arg(firstSection, lastSection);
    }
    if (firstLine) {
        if (firstLine == lastLine) return QStringLiteral("line %1").arg(firstLine);
        return QStringLiteral("lines %1–%2").arg(firstLine).arg(lastLine);
    }
    return {};
}

QString Span::citation() const {
    const QString l = label();
    return l.isEmpty() ? QString() : QStringLiteral("[%1]").arg(l);
}

}  // namespace ld::documents
