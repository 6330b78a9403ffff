// The main window: conversation sidebar, chat view with the input box, settings dialog,
// first-run screen and toasts. All state lives in C++ (the Workspace and its parts).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ApplicationWindow {
    id: window
    required property QtObject workspace
    readonly property QtObject settings: workspace.settings
    readonly property QtObject engine: workspace.engine
    readonly property QtObject chat: workspace.chat

    width: 1120
    height: 740
    minimumWidth: 640
    minimumHeight: 420
    visible: true
    title: chat.title ? chat.title + " — LlamaDesk" : "LlamaDesk"

    Theme {
        id: theme
        dark: window.workspace.dark
    }

    palette.window: theme.window
    palette.windowText: theme.text
    palette.base: theme.base
    palette.alternateBase: theme.alternateBase
    palette.text: theme.text
    palette.button: theme.button
    palette.buttonText: theme.text
    palette.highlight: theme.accent
    palette.highlightedText: "#ffffff"
    palette.placeholderText: theme.subtle
    palette.mid: theme.border
    palette.midlight: theme.alternateBase
    palette.light: theme.button
    palette.dark: theme.border
    palette.shadow: theme.border
    palette.toolTipBase: theme.base
    palette.toolTipText: theme.text
    palette.brightText: theme.text
    palette.link: theme.accent

    color: theme.window

    Shortcut {
        sequence: "Ctrl+N"
        onActivated: {
            window.chat.newChat()
            input.focusInput()
        }
    }
    Shortcut {
        sequence: "Esc"
        enabled: window.chat.busy
        onActivated: window.chat.stop()
    }
    Shortcut {
        sequence: "Ctrl+F"
        onActivated: sidebar.focusSearch()
    }
    Shortcut {
        sequence: "Ctrl+,"
        onActivated: settingsDialog.open()
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        Sidebar {
            id: sidebar
            Layout.preferredWidth: 270
            Layout.fillHeight: true
            workspace: window.workspace
            theme: theme
        }

        Rectangle {
            Layout.fillHeight: true
            implicitWidth: 1
            color: theme.border
        }

        ColumnLayout {
            Layout.fillWidth: true
            Layout.fillHeight: true
            spacing: 0

            StatusBar {
                Layout.fillWidth: true
                workspace: window.workspace
                theme: theme
                onSettingsRequested: settingsDialog.open()
                onChatSettingsRequested: chatSettingsDialog.open()
            }

            Banner {
                Layout.fillWidth: true
                theme: theme
                text: window.chat.notice
                onDismissed: window.chat.clearNotice()
            }

            FirstRun {
                Layout.fillWidth: true
                Layout.fillHeight: true
                visible: !window.engine.modelReady && !window.engine.loading && chatView.count === 0
                workspace: window.workspace
                theme: theme
            }

            ChatView {
                id: chatView
                Layout.fillWidth: true
                Layout.fillHeight: true
                visible: window.engine.modelReady || window.engine.loading || count > 0
                workspace: window.workspace
                theme: theme
            }

            SummaryProgress {
                Layout.fillWidth: true
                theme: theme
                controller: documents
            }

            InputBar {
                id: input
                Layout.fillWidth: true
                workspace: window.workspace
                theme: theme
                onAttachRequested: dropOverlay.openFileDialog()
            }
        }
    }

    SettingsDialog {
        id: settingsDialog
        objectName: "settingsDialog"
        workspace: window.workspace
        theme: theme
        anchors.centerIn: parent
        width: Math.min(window.width - 60, 720)
        height: window.height - 60
    }

    ChatSettingsDialog {
        id: chatSettingsDialog
        workspace: window.workspace
        theme: theme
        anchors.centerIn: parent
        width: Math.min(window.width - 60, 520)
    }

    DropOverlay {
        id: dropOverlay
        anchors.fill: parent
        theme: theme
        controller: documents
    }

    Toast {
        id: toast
        theme: theme
        anchors.bottom: parent.bottom
        anchors.horizontalCenter: parent.horizontalCenter
        anchors.bottomMargin: 90
        width: Math.min(parent.width - 80, 640)
    }

    Connections {
        target: window.workspace
        function onErrorOccurred(message) { toast.show(message, true) }
        function onInfo(message) { toast.show(message, false) }
    }
    Connections {
        target: documents
        function onErrorOccurred(message) { toast.show(message, true) }
    }

    Component.onCompleted: input.focusInput()
}
