// The question before a tool runs: which tool, from which MCP server, with which arguments, and
// the user's answer (Allow once, Always allow this tool, Deny). Shown while the chat has an open
// question (chat.toolApproval, a ToolApproval made by the turn's controller); answering it lets
// the turn go on, and the reply keeps streaming behind it. Stop ends the reply instead.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Dialog {
    id: dialog
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject request: workspace.chat.toolApproval

    objectName: "toolApprovalDialog"
    parent: Overlay.overlay
    anchors.centerIn: parent
    width: Math.min(parent.width - 40, 560)
    modal: true
    closePolicy: Popup.NoAutoClose
    title: qsTr("Run a tool?")
    padding: 16

    onRequestChanged: request ? open() : close()

    ColumnLayout {
        anchors.fill: parent
        spacing: 8

        Label {
            objectName: "toolApprovalText"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            textFormat: Text.PlainText
            text: dialog.request
                  ? qsTr("The model wants to run the tool \"%1\" of the MCP server \"%2\".").arg(dialog.request.tool).arg(dialog.request.server)
                  : ""
        }
        Label {
            text: qsTr("Arguments")
            color: dialog.theme.subtle
        }
        ScrollView {
            Layout.fillWidth: true
            Layout.preferredHeight: Math.min(220, argumentsText.implicitHeight + 12)
            TextArea {
                id: argumentsText
                objectName: "toolApprovalArguments"
                readOnly: true
                selectByMouse: true
                wrapMode: TextEdit.WrapAnywhere
                textFormat: TextEdit.PlainText
                font.family: dialog.theme.monospace
                text: dialog.request ? dialog.request.arguments : ""
            }
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: dialog.theme.subtle
            font.pixelSize: 11
            text: qsTr("\"Always allow\" holds for this tool until its description or parameters change.")
        }
        RowLayout {
            Layout.fillWidth: true
            Button {
                objectName: "toolAllowOnceButton"
                text: qsTr("Allow once")
                highlighted: true
                onClicked: dialog.request.allowOnce()
            }
            Button {
                objectName: "toolAlwaysAllowButton"
                text: qsTr("Always allow this tool")
                onClicked: dialog.request.alwaysAllow()
            }
            Button {
                objectName: "toolDenyButton"
                text: qsTr("Deny")
                onClicked: dialog.request.deny()
            }
            Item { Layout.fillWidth: true }
            Button {
                text: qsTr("Stop the reply")
                flat: true
                onClicked: dialog.workspace.chat.stop()
            }
        }
    }
}
