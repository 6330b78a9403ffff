// One message: a header line (who, status, the reply's model and stats, and the actions: copy,
// edit & resend, regenerate, continue), then the Markdown body (code blocks in monospace with a
// copy button). The actions sit in the header, so hiding them leaves no gap.
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
    required property string modelName
    property bool isLast: false
    property bool editing: false
    readonly property QtObject chat: workspace.chat
    readonly property bool isUser: role === "user"
    // What the app says about the chat (a file that could not be read); not from the model.
    readonly property bool isNotice: role === "notice"
    readonly property bool streaming: status === "streaming"

    implicitHeight: column.implicitHeight + 10

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
            id: header
            Layout.fillWidth: true
            // Fixed: the action buttons appearing on hover must not change the height.
            Layout.preferredHeight: 26
            spacing: 8
            Label {
                text: message.isUser ? qsTr("You") : message.role === "assistant" ? qsTr("Assistant")
                      : message.isNotice ? qsTr("⚠ Notice") : message.role
                font.bold: true
                color: message.isNotice ? message.theme.error : message.theme.subtle
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
            Label {
                objectName: "replyStats"
                Layout.fillWidth: true
                visible: !message.isUser && !message.isNotice
                // The model is named only where it is not the chat's current one (after a switch).
                text: [message.modelName !== message.chat.conversationModel ? message.modelName : "", message.stats]
                      .filter(s => s.length > 0).join(" · ")
                textFormat: Text.PlainText
                elide: Text.ElideRight
                color: message.theme.subtle
                font.pixelSize: 11
            }
            Item {
                visible: message.isUser || message.isNotice
                Layout.fillWidth: true
            }
            Row {
                id: actions
                Layout.alignment: Qt.AlignRight | Qt.AlignVCenter
                spacing: 0
                visible: (hover.hovered || message.isLast) && !message.streaming && !message.editing
                SmallButton {
                    text: qsTr("Copy")
                    onClicked: message.workspace.copyText(message.content)
                }
                SmallButton {
                    visible: message.isUser
                    enabled: !message.chat.busy
                    text: qsTr("Edit")
                    onClicked: {
                        editArea.text = message.content
                        message.editing = true
                        editArea.forceActiveFocus()
                    }
                }
                SmallButton {
                    visible: message.role === "assistant" && message.isLast
                    enabled: !message.chat.busy
                    text: qsTr("Regenerate")
                    onClicked: message.chat.regenerate()
                }
                SmallButton {
                    objectName: "continueButton"
                    visible: message.isLast && message.chat.canContinue
                    text: qsTr("Continue")
                    highlighted: true
                    onClicked: message.chat.continueReply()
                }
            }
        }

        Rectangle {
            Layout.fillWidth: true
            implicitHeight: body.implicitHeight + 20
            radius: 8
            color: message.isUser ? message.theme.userBubble : message.theme.assistantBubble
            border.color: message.isNotice ? message.theme.error : message.theme.border
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
                    text: message.isLast && message.chat.promptProgress >= 0
                          ? qsTr("Reading the conversation… %1%").arg(Math.round(message.chat.promptProgress * 100))
                          : qsTr("Thinking…")
                    color: message.theme.subtle
                }
                Label {
                    visible: message.status === "interrupted" && message.content.length === 0
                    text: qsTr("Stopped before the reply began.")
                    color: message.theme.subtle
                    font.italic: true
                }
                Label {
                    visible: message.error.length > 0
                    width: body.width
                    text: message.error
                    textFormat: Text.PlainText
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
