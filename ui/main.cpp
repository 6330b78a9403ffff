// llamadesk: the desktop chat app. Composition root: parses the command line, builds the app's
// object graph (ui/app_parts) and shows the Qt Quick window.
#include <QCommandLineParser>
#include <QGuiApplication>
#include <QIcon>
#include <QQmlApplicationEngine>
#include <QQuickStyle>
#include <cstdio>
#include <cstring>

#include "ui/app_parts.h"

int main(int argc, char** argv) {
    // --version answers without a display (QGuiApplication needs one to start).
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--version") == 0 || std::strcmp(argv[i], "-v") == 0) {
            std::printf("llamadesk %s\n", LLAMADESK_VERSION);
            return 0;
        }
    QGuiApplication::setOrganizationName(QStringLiteral("LlamaDesk"));
    QGuiApplication::setApplicationName(QStringLiteral("llamadesk"));
    QGuiApplication::setApplicationDisplayName(QStringLiteral("LlamaDesk"));
    QGuiApplication::setApplicationVersion(QStringLiteral(LLAMADESK_VERSION));
    QGuiApplication app(argc, argv);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Chat with Llama models on your own machine."));
    parser.addHelpOption();
    const QCommandLineOption model(QStringList{QStringLiteral("m"), QStringLiteral("model")},
                                   QStringLiteral("GGUF model to load (default: $LLAMADESK_MODEL, then the last one used)."),
                                   QStringLiteral("PATH"));
    const QCommandLineOption db(QStringLiteral("db"), QStringLiteral("History database (default: the app's data folder)."),
                                QStringLiteral("PATH"));
    parser.addOption(model);
    parser.addOption(db);
    parser.process(app);

    // Fusion follows the palette the QML sets for light and dark; no Material dependency.
    if (qEnvironmentVariableIsEmpty("QT_QUICK_CONTROLS_STYLE")) QQuickStyle::setStyle(QStringLiteral("Fusion"));

    ld::ui::AppPaths paths;
    paths.database = parser.value(db);
    ld::ui::AppParts parts(paths);
    parts.loadInitialModel(parser.value(model));

    QQmlApplicationEngine qml;
    if (!parts.loadQml(qml)) {
        std::fprintf(stderr, "llamadesk: the user interface could not be loaded\n");
        return 1;
    }
    return app.exec();
}
