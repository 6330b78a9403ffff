// The message box: Enter sends, Shift+Enter adds a line; Stop (or Esc) while a reply streams.
// Text that could not be saved comes back here, so nothing typed is lost. The paperclip asks
// for documents to summarize (the window's file dialog, as Ctrl+O).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: bar
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject chat: workspace.chat

    signal attachRequested()

    function focusInput() { area.forceActiveFocus() }
    function send() {
        if (area.text.trim().length === 0) return
        if (bar.chat.send(area.text)) area.text = ""
    }

    implicitHeight: Math.min(scroll.implicitHeight, 200) + 24
    color: theme.window

    Rectangle {
        width: parent.width
        height: 1
        color: bar.theme.border
    }

    RowLayout {
        anchors.fill: parent
        anchors.margins: 12
        spacing: 8

        IconButton {
            objectName: "attachButton"
            Layout.alignment: Qt.AlignBottom
            iconName: "paperclip"
            iconSize: 20
            text: qsTr("Attach documents to summarize")
            toolTipText: qsTr("Attach documents to summarize (Ctrl+O)")
            onClicked: bar.attachRequested()
        }
        ScrollView {
            id: scroll
            Layout.fillWidth: true
            Layout.fillHeight: true
            TextArea {
                id: area
                objectName: "messageInput"
                placeholderText: qsTr("Message LlamaDesk (Enter sends, Shift+Enter adds a line)")
                wrapMode: TextEdit.Wrap
                Keys.onPressed: event => {
                    if ((event.key === Qt.Key_Return || event.key === Qt.Key_Enter) && !(event.modifiers & Qt.ShiftModifier)) {
                        event.accepted = true
                        if (!bar.chat.busy) bar.send()
                    }
                }
            }
        }
        IconButton {
            objectName: "sendButton"
            Layout.alignment: Qt.AlignBottom
            flat: false
            display: AbstractButton.TextBesideIcon
            iconName: bar.chat.busy ? "square" : "send-horizontal"
            iconSize: 16
            text: bar.chat.busy ? qsTr("Stop") : qsTr("Send")
            toolTipText: bar.chat.busy ? qsTr("Stop the reply (Esc)") : qsTr("Send (Enter)")
            highlighted: !bar.chat.busy
            enabled: bar.chat.busy || area.text.trim().length > 0
            onClicked: bar.chat.busy ? bar.chat.stop() : bar.send()
        }
    }

    Connections {
        target: bar.chat
        function onDraftReturned(text) {
            if (area.text.length === 0) area.text = text
        }
    }
}
