// Settings → Tools: the MCP servers whose tools a chat may use (switched on per chat, in the
// chat's settings). Each server shows its state (stopped, starting, ready, failed and why), its
// tools and its log; servers are added as a command (stdio) or a URL (Streamable HTTP), or
// imported from the {"mcpServers": ...} file other MCP hosts use. They start when a chat with
// tools first needs them (or with Start) and stop with the app.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts

ScrollView {
    id: page
    required property QtObject theme
    required property QtObject tools   // ui::ToolsModel
    objectName: "settingsToolsPage"
    contentWidth: availableWidth
    property string message: ""

    function report(error, done) {
        message = error.length > 0 ? error : done
        messageLabel.color = error.length > 0 ? theme.error : theme.subtle
        return error.length === 0
    }

    ColumnLayout {
        width: page.availableWidth
        spacing: 8

        Label {
            text: qsTr("MCP servers")
            font.bold: true
            font.pixelSize: 15
            topPadding: 10
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: page.theme.subtle
            text: qsTr("Tools from these servers can be used in a chat whose settings switch tools on. You are asked before every call.")
        }
        Label {
            Layout.fillWidth: true
            visible: page.tools.loadError.length > 0
            wrapMode: Text.Wrap
            color: page.theme.error
            text: page.tools.loadError
        }
        Label {
            visible: serverList.count === 0
            text: qsTr("No servers yet.")
            color: page.theme.subtle
        }

        Repeater {
            id: serverList
            model: page.tools
            delegate: Rectangle {
                id: row
                required property string name
                required property string transport
                required property string target
                required property bool serverEnabled
                required property string serverState
                required property string reason
                required property int toolCount
                required property string toolNames
                objectName: "toolServerRow"
                Layout.fillWidth: true
                implicitHeight: rowColumn.implicitHeight + 16
                radius: 6
                color: page.theme.base
                border.color: row.serverState === "failed" ? page.theme.error : page.theme.border
                ColumnLayout {
                    id: rowColumn
                    x: 10
                    y: 8
                    width: parent.width - 20
                    RowLayout {
                        Layout.fillWidth: true
                        Switch {
                            objectName: "toolServerEnabled"
                            checked: row.serverEnabled
                            onToggled: page.report(page.tools.setEnabled(row.name, checked), "")
                        }
                        Label {
                            text: row.name
                            font.bold: true
                        }
                        Label {
                            objectName: "toolServerState"
                            Layout.fillWidth: true
                            elide: Text.ElideRight
                            color: row.serverState === "failed" ? page.theme.error : page.theme.subtle
                            text: row.serverState === "ready" ? qsTr("ready · %n tool(s)", "", row.toolCount) : row.serverState
                        }
                        Button {
                            text: qsTr("Start")
                            enabled: row.serverEnabled && (row.serverState === "stopped" || row.serverState === "failed")
                            onClicked: page.tools.start(row.name)
                        }
                        Button {
                            objectName: "toolServerLogButton"
                            text: qsTr("Log")
                            onClicked: logDialog.show(row.name)
                        }
                        Button {
                            text: qsTr("Remove")
                            onClicked: page.report(page.tools.remove(row.name), qsTr("Removed %1.").arg(row.name))
                        }
                    }
                    Label {
                        Layout.fillWidth: true
                        elide: Text.ElideMiddle
                        textFormat: Text.PlainText
                        font.family: page.theme.monospace
                        font.pixelSize: 11
                        text: row.target
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: row.reason.length > 0
                        wrapMode: Text.Wrap
                        textFormat: Text.PlainText
                        color: page.theme.error
                        text: row.reason
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: row.toolNames.length > 0
                        wrapMode: Text.Wrap
                        textFormat: Text.PlainText
                        color: page.theme.subtle
                        font.pixelSize: 11
                        text: row.toolNames
                    }
                }
            }
        }

        Label {
            text: qsTr("Add a server")
            font.bold: true
            topPadding: 10
        }
        RowLayout {
            Label { text: qsTr("Name"); Layout.preferredWidth: 90 }
            TextField { id: nameField; objectName: "toolServerName"; Layout.fillWidth: true }
        }
        RowLayout {
            RadioButton { id: useCommand; text: qsTr("Command (stdio)"); checked: true }
            RadioButton { id: useUrl; text: qsTr("URL (Streamable HTTP)") }
        }
        RowLayout {
            visible: useCommand.checked
            Label { text: qsTr("Command"); Layout.preferredWidth: 90 }
            TextField { id: commandField; Layout.fillWidth: true; placeholderText: "npx" }
        }
        RowLayout {
            visible: useCommand.checked
            Label { text: qsTr("Arguments"); Layout.preferredWidth: 90 }
            TextField { id: argsField; Layout.fillWidth: true; placeholderText: "-y @modelcontextprotocol/server-everything" }
        }
        RowLayout {
            visible: useCommand.checked
            Label { text: qsTr("Environment"); Layout.preferredWidth: 90; Layout.alignment: Qt.AlignTop }
            TextArea { id: envField; Layout.fillWidth: true; placeholderText: qsTr("KEY=VALUE, one per line") }
        }
        RowLayout {
            visible: useUrl.checked
            Label { text: qsTr("URL"); Layout.preferredWidth: 90 }
            TextField { id: urlField; Layout.fillWidth: true; placeholderText: "https://example.com/mcp" }
        }
        Button {
            text: qsTr("Add")
            onClicked: {
                const error = useCommand.checked
                        ? page.tools.addCommand(nameField.text, commandField.text, argsField.text, envField.text)
                        : page.tools.addUrl(nameField.text, urlField.text)
                if (page.report(error, qsTr("Added %1.").arg(nameField.text.trim()))) {
                    nameField.text = ""
                    commandField.text = ""
                    argsField.text = ""
                    envField.text = ""
                    urlField.text = ""
                }
            }
        }

        Label {
            text: qsTr("Import")
            font.bold: true
            topPadding: 10
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: page.theme.subtle
            text: qsTr("Paste the JSON other MCP hosts use ({\"mcpServers\": {\"name\": {\"command\": …, \"args\": […]}}}) or open such a file. Servers with a name already here are replaced.")
        }
        TextArea {
            id: importField
            objectName: "toolImportText"
            Layout.fillWidth: true
            Layout.preferredHeight: 80
            font.family: page.theme.monospace
            wrapMode: TextEdit.WrapAnywhere
        }
        RowLayout {
            Button {
                text: qsTr("Import")
                enabled: importField.text.trim().length > 0
                onClicked: if (page.report(page.tools.importJson(importField.text), qsTr("Imported."))) importField.text = ""
            }
            Button {
                text: qsTr("Open a file…")
                onClicked: importDialog.open()
            }
        }
        Label {
            id: messageLabel
            Layout.fillWidth: true
            visible: page.message.length > 0
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            text: page.message
        }
        Label {
            Layout.fillWidth: true
            Layout.topMargin: 8
            elide: Text.ElideMiddle
            color: page.theme.subtle
            font.pixelSize: 11
            text: qsTr("Saved in %1").arg(page.tools.filePath)
        }
    }

    FileDialog {
        id: importDialog
        title: qsTr("Import MCP servers")
        nameFilters: [qsTr("JSON files (*.json)"), qsTr("All files (*)")]
        onAccepted: page.report(page.tools.importFile(selectedFile), qsTr("Imported."))
    }

    // A server's stderr and log messages, read when opened (Refresh reads them again).
    Dialog {
        id: logDialog
        objectName: "serverLogDialog"
        property string server: ""
        function show(name) {
            server = name
            logText.text = page.tools.log(name)
            open()
        }
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(parent.width - 40, 720)
        height: Math.min(parent.height - 40, 520)
        modal: true
        title: qsTr("Log of %1").arg(server)
        standardButtons: Dialog.Close
        ColumnLayout {
            anchors.fill: parent
            ScrollView {
                Layout.fillWidth: true
                Layout.fillHeight: true
                TextArea {
                    id: logText
                    objectName: "serverLogText"
                    readOnly: true
                    selectByMouse: true
                    wrapMode: TextEdit.WrapAnywhere
                    textFormat: TextEdit.PlainText
                    font.family: page.theme.monospace
                    placeholderText: qsTr("Nothing logged yet.")
                }
            }
            Button {
                text: qsTr("Refresh")
                onClicked: logText.text = page.tools.log(logDialog.server)
            }
        }
    }
}
