// Reading one entry of a ZIP archive in memory (DOCX, ODT) through libzip.
#include <zip.h>

#include "app/documents/readers_internal.h"

namespace ld::documents::detail {

namespace {
// Decompressed XML above this is a zip bomb, not a document anyone wrote.
constexpr zip_uint64_t kMaxEntryBytes = 512ull * 1024 * 1024;
}

QString readZipEntry(const QByteArray& zipBytes, const char* name, QByteArray* out, bool* missing) {
    if (missing) *missing = false;
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(zipBytes.constData(), zip_uint64_t(zipBytes.size()), 0, &error);
    if (!src) {
        zip_error_fini(&error);
        return QStringLiteral("out of memory while opening the archive");
    }
    zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &error);
    if (!za) {
        const int code = zip_error_code_zip(&error);
        zip_source_free(src);
        zip_error_fini(&error);
        return code == ZIP_ER_NOZIP ? QStringLiteral("it is not a valid ZIP container (the file is damaged or not this format)")
                                    : QStringLiteral("the file is damaged (its ZIP container cannot be read)");
    }
    zip_error_fini(&error);
    QString result;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(za, name, 0, &st) != 0) {
        if (missing) *missing = true;
        result = QStringLiteral("it has no %1 inside (damaged or not this format)").arg(QLatin1String(name));
    } else if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        result = QStringLiteral("the document is password-protected (encrypted)");
    } else if ((st.valid & ZIP_STAT_SIZE) && st.size > kMaxEntryBytes) {
        result = QStringLiteral("its %1 unpacks to more than %2 MB").arg(QLatin1String(name)).arg(kMaxEntryBytes >> 20);
    } else if (zip_file_t* f = zip_fopen(za, name, 0)) {
        out->resize(qsizetype(st.size));
        const zip_int64_t got = zip_fread(f, out->data(), st.size);
        if (got < 0 || zip_uint64_t(got) != st.size)
            result = QStringLiteral("the file is damaged (%1 cannot be unpacked)").arg(QLatin1String(name));
        zip_fclose(f);
    } else {
        const int code = zip_error_code_zip(zip_get_error(za));
        result = (code == ZIP_ER_NOPASSWD || code == ZIP_ER_ENCRNOTSUPP || code == ZIP_ER_WRONGPASSWD)
                     ? QStringLiteral("the document is password-protected (encrypted)")
                     : QStringLiteral("the file is damaged (%1 cannot be unpacked)").arg(QLatin1String(name));
    }
    zip_discard(za);  // also frees the source
    return result;
}

}  // namespace ld::documents::detail
