#include "app/cli/qt_support.h"

#include <QCoreApplication>

namespace ld::cli {

void ensure_qt_application() {
    if (QCoreApplication::instance()) return;
    static int argc = 1;
    static char name[] = "llamadesk-cli";
    static char* argv[] = {name, nullptr};
    static QCoreApplication app(argc, argv);
}

}  // namespace ld::cli
