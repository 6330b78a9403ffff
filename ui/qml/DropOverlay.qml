// Dropping files anywhere on the window summarizes them into the open chat (DocumentController
// in C++). While files are dragged over the window, this shows where to drop them. Ctrl+O opens
// a file dialog for the same.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs

DropArea {
    id: area
    objectName: "documentDropArea"
    required property QtObject theme
    required property QtObject controller    // documents::DocumentController
    required property QtObject settings      // settings::AppSettings (the dialog's folder)

    function openFileDialog() { fileDialog.open() }
    readonly property bool fileDialogOpen: fileDialog.visible

    keys: ["text/uri-list"]
    onDropped: function(drop) {
        if (!drop.hasUrls) return
        area.controller.addFiles(drop.urls)
        drop.acceptProposedAction()
    }

    Rectangle {
        anchors.fill: parent
        anchors.margins: 12
        visible: area.containsDrag
        radius: 12
        color: Qt.rgba(area.theme.accent.r, area.theme.accent.g, area.theme.accent.b, 0.12)
        border.color: area.theme.accent
        border.width: 3

        Column {
            anchors.centerIn: parent
            spacing: 8
            Label {
                anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("Drop files to summarize them")
                font.pixelSize: 22
                font.bold: true
                color: area.theme.accent
            }
            Label {
                anchors.horizontalCenter: parent.horizontalCenter
                text: qsTr("PDF, DOCX, ODT, HTML, Markdown, text and source code · added to this chat")
                color: area.theme.subtle
            }
        }
    }

    FileDialog {
        id: fileDialog
        objectName: "documentsFileDialog"
        title: qsTr("Summarize documents")
        fileMode: FileDialog.OpenFiles
        nameFilters: area.controller.nameFilters
        currentFolder: area.settings.dialogFolder
        onAccepted: {
            if (selectedFiles.length > 0) area.settings.rememberDialogFolder(selectedFiles[0])
            area.controller.addFiles(selectedFiles)
        }
    }

    Shortcut {
        sequence: "Ctrl+O"
        onActivated: fileDialog.open()
    }
}
