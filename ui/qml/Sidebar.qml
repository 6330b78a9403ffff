// Conversations: new chat, search through the history, the list with rename/export/delete.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

Rectangle {
    id: sidebar
    objectName: "sidebar"
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject chat: workspace.chat
    property var menuTarget: ({ id: 0, title: "" })

    function focusSearch() {
        search.forceActiveFocus()
        search.selectAll()
    }

    color: theme.sidebar

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 10
        spacing: 8

        IconButton {
            Layout.fillWidth: true
            flat: false
            display: AbstractButton.TextBesideIcon
            iconName: "square-pen"
            iconSize: 16
            text: qsTr("New chat")
            toolTipText: qsTr("New chat (Ctrl+N)")
            onClicked: sidebar.chat.newChat()
        }
        TextField {
            id: search
            objectName: "searchField"
            Layout.fillWidth: true
            placeholderText: qsTr("Search chats (Ctrl+F)")
            onTextChanged: searchDelay.restart()
            Keys.onEscapePressed: text = ""
            Timer {
                id: searchDelay
                interval: 200
                onTriggered: sidebar.workspace.search(search.text)
            }
        }

        ListView {
            id: results
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: search.text.length > 0
            clip: true
            model: sidebar.workspace.searchResults
            delegate: ItemDelegate {
                required property var modelData
                width: results.width
                contentItem: Column {
                    spacing: 2
                    Label {
                        width: parent.width
                        text: modelData.title
                        textFormat: Text.PlainText
                        font.bold: true
                        elide: Text.ElideRight
                    }
                    Label {
                        width: parent.width
                        // Escaped in C++; only the match highlighting is markup.
                        text: modelData.snippet
                        textFormat: Text.StyledText
                        wrapMode: Text.Wrap
                        maximumLineCount: 2
                        elide: Text.ElideRight
                        color: sidebar.theme.subtle
                    }
                }
                onClicked: sidebar.chat.openConversation(modelData.conversationId)
            }
            Label {
                anchors.centerIn: parent
                visible: results.count === 0
                text: qsTr("No matches")
                color: sidebar.theme.subtle
            }
        }

        ListView {
            id: list
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: search.text.length === 0
            clip: true
            model: sidebar.workspace.conversations
            ScrollBar.vertical: ScrollBar {}
            delegate: ItemDelegate {
                id: row
                required property var conversationId
                required property string title
                width: list.width
                highlighted: conversationId === sidebar.chat.conversationId
                text: title
                contentItem: RowLayout {
                    Label {
                        Layout.fillWidth: true
                        text: row.title
                        textFormat: Text.PlainText
                        elide: Text.ElideRight
                        color: row.highlighted ? palette.highlightedText : sidebar.theme.text
                    }
                    IconButton {
                        objectName: "conversationMenuButton"
                        iconName: "ellipsis"
                        iconSize: 16
                        padding: 2
                        text: qsTr("Rename, export or delete “%1”").arg(row.title)
                        toolTipText: qsTr("More")
                        // In the highlighted row, the colour of the row's text.
                        icon.color: row.highlighted ? palette.highlightedText : palette.buttonText
                        visible: row.hovered || row.highlighted
                        onClicked: {
                            sidebar.menuTarget = { id: row.conversationId, title: row.title }
                            conversationMenu.popup()
                        }
                    }
                }
                onClicked: sidebar.chat.openConversation(conversationId)
                TapHandler {
                    acceptedButtons: Qt.RightButton
                    onTapped: {
                        sidebar.menuTarget = { id: row.conversationId, title: row.title }
                        conversationMenu.popup()
                    }
                }
            }
            Label {
                anchors.centerIn: parent
                width: parent.width - 20
                horizontalAlignment: Text.AlignHCenter
                wrapMode: Text.Wrap
                visible: list.count === 0
                text: qsTr("Your chats appear here.")
                color: sidebar.theme.subtle
            }
        }
    }

    Menu {
        id: conversationMenu
        MenuItem {
            text: qsTr("Rename…")
            onTriggered: {
                renameField.text = sidebar.menuTarget.title
                renameDialog.open()
            }
        }
        MenuItem {
            text: qsTr("Export as Markdown…")
            onTriggered: sidebar.exportAs("md")
        }
        MenuItem {
            text: qsTr("Export as JSON…")
            onTriggered: sidebar.exportAs("json")
        }
        MenuSeparator {}
        MenuItem {
            text: qsTr("Delete…")
            onTriggered: deleteDialog.open()
        }
    }

    property string exportFormat: "md"
    function exportAs(format) {
        exportFormat = format
        exportDialog.selectedFile = sidebar.workspace.settings.dialogFile(workspace.exportFileName(menuTarget.title, format))
        exportDialog.open()
    }

    FileDialog {
        id: exportDialog
        objectName: "exportFileDialog"
        title: qsTr("Export chat")
        fileMode: FileDialog.SaveFile
        nameFilters: sidebar.exportFormat === "json" ? [qsTr("JSON (*.json)")] : [qsTr("Markdown (*.md)")]
        currentFolder: sidebar.workspace.settings.dialogFolder
        onAccepted: {
            sidebar.workspace.settings.rememberDialogFolder(selectedFile)
            sidebar.workspace.exportConversation(sidebar.menuTarget.id, selectedFile, sidebar.exportFormat)
        }
    }

    Dialog {
        id: renameDialog
        parent: Overlay.overlay
        anchors.centerIn: parent
        modal: true
        title: qsTr("Rename chat")
        standardButtons: Dialog.Ok | Dialog.Cancel
        width: 360
        TextField {
            id: renameField
            width: parent.width
            onAccepted: renameDialog.accept()
        }
        onOpened: renameField.forceActiveFocus()
        onAccepted: sidebar.workspace.renameConversation(sidebar.menuTarget.id, renameField.text)
    }

    Dialog {
        id: deleteDialog
        parent: Overlay.overlay
        anchors.centerIn: parent
        modal: true
        title: qsTr("Delete chat")
        standardButtons: Dialog.Yes | Dialog.No
        Label {
            text: qsTr("Delete “%1” and all its messages?").arg(sidebar.menuTarget.title)
            textFormat: Text.PlainText
        }
        onAccepted: sidebar.workspace.deleteConversation(sidebar.menuTarget.id)
    }
}
