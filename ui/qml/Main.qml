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

    // Shown by placeWindow() once it has its size: the last session's, or ~70% of the screen.
    width: 1120
    height: 740
    minimumWidth: 640
    minimumHeight: 420
    visible: false
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

    // Opens by itself while the chat asks whether a tool may run.
    ToolApprovalDialog {
        workspace: window.workspace
        theme: theme
    }

    DropOverlay {
        id: dropOverlay
        anchors.fill: parent
        theme: theme
        controller: documents
        settings: window.settings
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

    // --- Window geometry: saved when the window closes, restored at the next start ---------
    // The geometry to restore is the window's last one while it was neither maximized nor
    // full-screen. Maximizing moves and resizes the window before or after the state changes
    // (it depends on the platform), so a geometry is taken only once it has been still for a
    // moment.
    property rect normalGeometry: Qt.rect(0, 0, 0, 0)
    function recordGeometry() {
        if (visibility === Window.Windowed) normalGeometry = Qt.rect(x, y, width, height)
    }
    Timer {
        id: geometryTimer
        interval: 300
        onTriggered: window.recordGeometry()
    }
    onXChanged: geometryTimer.restart()
    onYChanged: geometryTimer.restart()
    onWidthChanged: geometryTimer.restart()
    onHeightChanged: geometryTimer.restart()
    onClosing: {
        if (geometryTimer.running) recordGeometry()
        settings.saveWindow(normalGeometry, visibility === Window.Maximized)
    }

    // The saved geometry when it is on one of the screens now attached; otherwise its size
    // (first run: 70% of the screen, at least the minimum) centred on this screen.
    function placeWindow() {
        const saved = settings.windowGeometry()
        const screenW = Screen.width > 0 ? Screen.width : 1280
        const screenH = Screen.height > 0 ? Screen.height : 800
        const maxW = Math.max(minimumWidth, Screen.desktopAvailableWidth > 0 ? Screen.desktopAvailableWidth : screenW)
        const maxH = Math.max(minimumHeight, Screen.desktopAvailableHeight > 0 ? Screen.desktopAvailableHeight : screenH)
        const w = Math.min(Math.max(saved.width > 0 ? saved.width : Math.round(screenW * 0.7), minimumWidth), maxW)
        const h = Math.min(Math.max(saved.height > 0 ? saved.height : Math.round(screenH * 0.7), minimumHeight), maxH)
        const cx = saved.x + w / 2
        const cy = saved.y + h / 2
        let onScreen = false
        const screens = Qt.application.screens  // a list property: no Array methods
        for (let i = 0; saved.width > 0 && i < screens.length; ++i) {
            const s = screens[i]
            if (cx >= s.virtualX && cx < s.virtualX + s.width && cy >= s.virtualY && cy < s.virtualY + s.height)
                onScreen = true
        }
        width = w
        height = h
        x = onScreen ? saved.x : Screen.virtualX + Math.round((screenW - w) / 2)
        y = onScreen ? saved.y : Screen.virtualY + Math.round((screenH - h) / 2)
        normalGeometry = Qt.rect(x, y, width, height)
        if (settings.windowMaximized()) showMaximized()
        else show()
    }

    Component.onCompleted: {
        placeWindow()
        input.focusInput()
    }
}
