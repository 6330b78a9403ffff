// One message: a header line (who, status, the reply's model and stats, and the actions: copy,
// edit & resend, regenerate, continue), then the body as the model rendered it: rich text,
// highlighted code blocks with a copy button, quotes and tables. The actions sit in the header,
// so hiding them leaves no gap.
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
    // [{callId, server, name, arguments, decision, hasResult, result, isError, truncated}]
    required property var toolCalls
    property bool isLast: false
    // A link in the reply was clicked; the view confirms before opening it.
    signal linkClicked(string url)

    function sameBlock(a, b) {
        if (!a || !b || a.kind !== b.kind || a.html !== b.html || a.text !== b.text || a.lang !== b.lang)
            return false
        return a.kind !== "table" || JSON.stringify(a.cells) === JSON.stringify(b.cells)
    }
    property bool editing: false
    readonly property QtObject chat: workspace.chat
    readonly property bool isUser: role === "user"
    // What the app says about the chat (a file that could not be read); not from the model.
    readonly property bool isNotice: role === "notice"
    readonly property bool streaming: status === "streaming"

    // A tool's result is shown in the block of the call it answers, not as a row of its own.
    readonly property bool isToolResult: role === "tool"
    visible: !isToolResult
    implicitHeight: isToolResult ? 0 : column.implicitHeight + 10

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
                      : message.isNotice ? qsTr("Notice") : message.role
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
                    iconName: "copy"
                    text: qsTr("Copy")
                    onClicked: message.workspace.copyText(message.content)
                }
                SmallButton {
                    visible: message.isUser
                    enabled: !message.chat.busy
                    iconName: "pencil"
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
                    iconName: "refresh-cw"
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

                // One item per block, on the number of blocks: while a reply streams, a flush
                // changes only its last block, and the items of the others (and a selection in
                // them) stay as they are; a block is handed to its item only when it changed
                // (a TextEdit re-parses any rich text it is given, even the same).
                Repeater {
                    model: message.blocks.length
                    delegate: Loader {
                        id: blockLoader
                        required property int index
                        property var block: null
                        width: body.width
                        sourceComponent: !block ? null : block.kind === "code" ? codeBlock
                                         : block.kind === "table" ? tableBlock
                                         : block.kind === "quote" ? quoteBlock : textBlock
                        function update() {
                            const b = message.blocks[index]
                            if (!message.sameBlock(b, block)) block = b
                        }
                        Component.onCompleted: update()
                        Connections {
                            target: message
                            function onBlocksChanged() { blockLoader.update() }
                        }
                    }
                }
                Label {
                    visible: message.streaming && message.content.length === 0 && message.toolCalls.length === 0
                    text: message.isLast && message.chat.promptProgress >= 0
                          ? qsTr("Reading the conversation… %1%").arg(Math.round(message.chat.promptProgress * 100))
                          : qsTr("Thinking…")
                    color: message.theme.subtle
                }
                // The reply's tool calls, each a block that opens to its arguments and result.
                Repeater {
                    model: message.toolCalls
                    delegate: ToolCallBlock {
                        required property var modelData
                        width: body.width
                        call: modelData
                        theme: message.theme
                    }
                }
                Label {
                    visible: message.status === "interrupted" && message.content.length === 0 && message.toolCalls.length === 0
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

    // The model renders the blocks (ui/text_format.cpp, ui/syntax_highlight.cpp) in the theme's
    // colours; a link asks before it opens (ChatView's dialog).
    // (An inline component does not see this file's ids: users set theme and the link handler.)
    component ReplyText: TextEdit {
        id: replyText
        required property QtObject theme
        textFormat: TextEdit.RichText
        wrapMode: TextEdit.Wrap
        readOnly: true
        selectByMouse: true
        color: theme.text
        selectionColor: theme.accent
        HoverHandler {
            cursorShape: replyText.hoveredLink.length > 0 ? Qt.PointingHandCursor : Qt.IBeamCursor
        }
    }

    Component {
        id: textBlock
        ReplyText {
            objectName: "proseText"
            theme: message.theme
            text: block.html
            onLinkActivated: link => message.linkClicked(link)
        }
    }

    // A quote: a bar on the left, muted text.
    Component {
        id: quoteBlock
        Item {
            implicitHeight: quoteText.implicitHeight
            Rectangle {
                objectName: "quoteBar"
                width: 3
                height: parent.height
                color: message.theme.subtle
            }
            ReplyText {
                id: quoteText
                objectName: "quoteText"
                theme: message.theme
                x: 13
                width: parent.width - 13
                text: block.html
                color: message.theme.subtle
                onLinkActivated: link => message.linkClicked(link)
            }
        }
    }

    // A table: cells on a grid 1px apart over the border colour, so every line is single; the
    // header row shaded. Wide tables wrap their cells' text to fit the message.
    Component {
        id: tableBlock
        Item {
            implicitHeight: grid.implicitHeight + 2
            Rectangle {
                width: Math.min(parent.width, grid.implicitWidth + 2)
                height: parent.height
                color: message.theme.border
                GridLayout {
                    id: grid
                    x: 1
                    y: 1
                    width: parent.width - 2
                    columns: Math.max(1, block.columns)
                    rowSpacing: 1
                    columnSpacing: 1
                    Repeater {
                        model: block.cells
                        Rectangle {
                            required property var modelData
                            objectName: modelData.header ? "tableHeaderCell" : "tableCell"
                            Layout.fillWidth: true
                            Layout.fillHeight: true
                            implicitWidth: Math.min(cellText.implicitWidth, 480) + 12
                            implicitHeight: cellText.implicitHeight + 10
                            color: modelData.header ? message.theme.alternateBase
                                 : message.isUser ? message.theme.userBubble : message.theme.assistantBubble
                            ReplyText {
                                id: cellText
                                x: 6
                                y: 5
                                width: parent.width - 12
                                theme: message.theme
                                text: modelData.html
                                horizontalAlignment: modelData.align === "right" ? TextEdit.AlignRight
                                                   : modelData.align === "center" ? TextEdit.AlignHCenter : TextEdit.AlignLeft
                                onLinkActivated: link => message.linkClicked(link)
                            }
                        }
                    }
                }
            }
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
                    IconButton {
                        iconName: "copy"
                        iconSize: 13
                        display: AbstractButton.TextBesideIcon
                        toolTipText: ""
                        text: qsTr("Copy code")
                        font.pixelSize: 11
                        onClicked: message.workspace.copyText(block.text)
                    }
                }
                // Highlighted by the model (ui/syntax_highlight.cpp); copying takes block.text.
                TextEdit {
                    objectName: "codeText"
                    width: parent.width
                    text: block.html
                    textFormat: TextEdit.RichText
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

    // One tool call: a header with the tool, its server and what happened (the user's decision,
    // running, done, failed); clicked, it opens to the arguments and the result.
    component ToolCallBlock: Rectangle {
        id: callBlock
        required property var call
        required property QtObject theme
        property bool expanded: false
        objectName: "toolCallBlock"
        implicitHeight: callColumn.implicitHeight + 12
        radius: 6
        color: theme.codeBackground
        border.color: call.isError ? theme.error : theme.border
        readonly property string stateText: call.decision === "denied" ? qsTr("denied")
            : call.hasResult ? (call.isError ? qsTr("failed") : qsTr("done"))
            : call.decision === "pending" ? qsTr("waiting for your answer") : qsTr("running…")
        Column {
            id: callColumn
            x: 10
            y: 6
            width: parent.width - 20
            spacing: 6
            AbstractButton {
                objectName: "toolCallToggle"
                width: parent.width
                implicitHeight: toggleLabel.implicitHeight + 4
                onClicked: callBlock.expanded = !callBlock.expanded
                contentItem: Label {
                    id: toggleLabel
                    text: qsTr("Tool %1 on %2 · %3 · %4")
                          .arg(callBlock.call.name).arg(callBlock.call.server.length > 0 ? callBlock.call.server : qsTr("no server"))
                          .arg(callBlock.stateText).arg(callBlock.expanded ? qsTr("hide details") : qsTr("show details"))
                    textFormat: Text.PlainText
                    elide: Text.ElideRight
                    color: callBlock.theme.subtle
                    font.pixelSize: 12
                }
            }
            Label {
                visible: callBlock.expanded
                text: qsTr("Arguments")
                color: callBlock.theme.subtle
                font.pixelSize: 11
            }
            TextEdit {
                objectName: "toolCallArguments"
                visible: callBlock.expanded
                width: parent.width
                text: callBlock.call.arguments
                textFormat: TextEdit.PlainText
                font.family: callBlock.theme.monospace
                wrapMode: TextEdit.WrapAnywhere
                readOnly: true
                selectByMouse: true
                color: callBlock.theme.text
            }
            Label {
                visible: callBlock.expanded && callBlock.call.hasResult
                text: callBlock.call.truncated ? qsTr("Result (shortened to fit the context)") : qsTr("Result")
                color: callBlock.theme.subtle
                font.pixelSize: 11
            }
            TextEdit {
                objectName: "toolCallResult"
                visible: callBlock.expanded && callBlock.call.hasResult
                width: parent.width
                text: callBlock.call.hasResult ? callBlock.call.result : ""
                textFormat: TextEdit.PlainText
                font.family: callBlock.theme.monospace
                wrapMode: TextEdit.WrapAnywhere
                readOnly: true
                selectByMouse: true
                color: callBlock.call.isError ? callBlock.theme.error : callBlock.theme.text
            }
        }
    }
}
