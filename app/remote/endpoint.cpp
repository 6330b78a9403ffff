#include "app/remote/endpoint.h"

namespace ld::remote {

namespace {
QString trimmedPath(const QUrl& u) {
    QString p = u.path();
    while (p.endsWith(QLatin1Char('/'))) p.chop(1);
    return p;
}
}  // namespace

QUrl RemoteEndpoint::url(const QString& path) const {
    QUrl u = baseUrl;
    u.setPath(trimmedPath(baseUrl) + path);
    return u;
}

QUrl RemoteEndpoint::rootUrl(const QString& path) const {
    QUrl u = baseUrl;
    QString p = trimmedPath(baseUrl);
    if (p.endsWith(QLatin1String("/v1"))) p.chop(3);
    u.setPath(p + path);
    return u;
}

QUrl parseBaseUrl(const QString& text, QString* error) {
    const QUrl u(text.trimmed(), QUrl::StrictMode);
    const QString scheme = u.scheme().toLower();
    if (!u.isValid() || (scheme != QLatin1String("http") && scheme != QLatin1String("https")) || u.host().isEmpty()) {
        if (error)
            *error = QStringLiteral("'%1' is not a server URL; give the base URL as OpenAI clients take it, "
                                    "e.g. http://127.0.0.1:8000/v1").arg(text);
        return {};
    }
    if (u.hasQuery() || u.hasFragment()) {
        if (error) *error = QStringLiteral("the base URL '%1' must not have a query or fragment").arg(text);
        return {};
    }
    QUrl out = u;
    out.setPath(trimmedPath(u));
    return out;
}

}  // namespace ld::remote
