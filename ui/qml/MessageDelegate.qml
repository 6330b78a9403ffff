// One message: role, Markdown body (code blocks in monospace with a copy button), status,
// actions (copy, edit & resend, regenerate, continue) and the reply's stats.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Item {
    id: message
    required property QtObject workspace
    required property QtObject theme
    required property int index
    required property var messageId
    required property string role
    required property string content
    required property string status
    required property string stats
    required property string error
    required property var blocks
    property bool isLast: false
    property bool editing: false
    readonly property QtObject chat: workspace.chat
    readonly property bool isUser: role === "user"
    readonly property bool streaming: status === "streaming"

    implicitHeight: column.implicitHeight + 8

    HoverHandler { id: hover }

    ColumnLayout {
        id: column
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.leftMargin: 24
        anchors.rightMargin: 24
        anchors.top: parent.top
        spacing: 4

        RowLayout {
            spacing: 8
            Label {
                text: message.isUser ? qsTr("You") : message.role === "assistant" ? qsTr("Assistant") : message.role
                font.bold: true
                color: message.theme.subtle
            }
            Label {
                visible: message.status === "interrupted" || message.status === "error"
                text: message.status === "interrupted" ? qsTr("interrupted") : qsTr("failed")
                color: message.theme.error
                font.italic: true
            }
            BusyIndicator {
                visible: message.streaming
                running: visible
                implicitWidth: 18
                implicitHeight: 18
            }
        }

        Rectangle {
            Layout.fillWidth: true
            implicitHeight: body.implicitHeight + 20
            radius: 8
            color: message.isUser ? message.theme.userBubble : message.theme.assistantBubble
            border.color: message.theme.border
            border.width: message.isUser ? 0 : 1
            visible: !message.editing

            Column {
                id: body
                x: 12
                y: 10
                width: parent.width - 24
                spacing: 8

                Repeater {
                    model: message.blocks
                    delegate: Loader {
                        required property var modelData
                        width: body.width
                        sourceComponent: modelData.code ? codeBlock : textBlock
                        property var block: modelData
                    }
                }
                Label {
                    visible: message.streaming && message.content.length === 0
                    text: qsTr("Thinking…")
                    color: message.theme.subtle
                }
                Label {
                    visible: message.error.length > 0
                    width: body.width
                    text: message.error
                    wrapMode: Text.Wrap
                    color: message.theme.error
                }
            }
        }

        // Edit and resend (user messages): the edit goes on a new branch.
        ColumnLayout {
            visible: message.editing
            Layout.fillWidth: true
            TextArea {
                id: editArea
                Layout.fillWidth: true
                wrapMode: TextEdit.Wrap
            }
            RowLayout {
                Button {
                    text: qsTr("Send")
                    highlighted: true
                    onClicked: {
                        message.editing = false
                        message.chat.editAndResend(message.index, editArea.text)
                    }
                }
                Button {
                    text: qsTr("Cancel")
                    onClicked: message.editing = false
                }
            }
        }

        RowLayout {
            spacing: 2
            opacity: hover.hovered || message.isLast ? 1 : 0
            visible: !message.streaming && !message.editing
            ToolButton {
                text: qsTr("Copy")
                onClicked: message.workspace.copyText(message.content)
            }
            ToolButton {
                visible: message.isUser
                enabled: !message.chat.busy
                text: qsTr("Edit")
                onClicked: {
                    editArea.text = message.content
                    message.editing = true
                    editArea.forceActiveFocus()
                }
            }
            ToolButton {
                visible: !message.isUser && message.isLast
                enabled: !message.chat.busy
                text: qsTr("Regenerate")
                onClicked: message.chat.regenerate()
            }
            ToolButton {
                visible: message.isLast && message.chat.canContinue
                text: qsTr("Continue")
                onClicked: message.chat.continueReply()
            }
            Label {
                Layout.leftMargin: 8
                visible: !message.isUser
                text: message.stats
                color: message.theme.subtle
                font.pixelSize: 11
            }
        }
    }

    Component {
        id: textBlock
        TextEdit {
            text: block.text
            textFormat: TextEdit.MarkdownText
            wrapMode: TextEdit.Wrap
            readOnly: true
            selectByMouse: true
            color: message.theme.text
            selectionColor: message.theme.accent
            onLinkActivated: link => Qt.openUrlExternally(link)
        }
    }

    Component {
        id: codeBlock
        Rectangle {
            implicitHeight: codeColumn.implicitHeight + 12
            radius: 6
            color: message.theme.codeBackground
            border.color: message.theme.border
            Column {
                id: codeColumn
                x: 10
                y: 6
                width: parent.width - 20
                RowLayout {
                    width: parent.width
                    Label {
                        Layout.fillWidth: true
                        text: block.lang
                        color: message.theme.subtle
                        font.pixelSize: 11
                    }
                    ToolButton {
                        text: qsTr("Copy code")
                        font.pixelSize: 11
                        onClicked: message.workspace.copyText(block.text)
                    }
                }
                TextEdit {
                    width: parent.width
                    text: block.text
                    textFormat: TextEdit.PlainText
                    font.family: message.theme.monospace
                    wrapMode: TextEdit.WrapAnywhere
                    readOnly: true
                    selectByMouse: true
                    color: message.theme.text
                    selectionColor: message.theme.accent
                }
            }
        }
    }
}
