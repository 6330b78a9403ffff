// The open conversation's messages. Follows the streaming reply while the view is at the end;
// scrolling up stops following until the user comes back down. A link in a reply opens in the
// browser only after a dialog has shown its full address.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ListView {
    id: view
    required property QtObject workspace
    required property QtObject theme
    property bool follow: true

    objectName: "messageList"
    clip: true
    spacing: 4
    topMargin: 16
    bottomMargin: 16
    model: workspace.messages
    boundsBehavior: Flickable.StopAtBounds
    ScrollBar.vertical: ScrollBar {}

    delegate: MessageDelegate {
        width: view.width
        workspace: view.workspace
        theme: view.theme
        isLast: index === view.count - 1
        onLinkClicked: url => linkDialog.ask(url)
    }

    // The model renders the replies' colours for the theme in use.
    Binding {
        target: view.workspace.messages
        property: "dark"
        value: view.theme.dark
    }

    onMovementEnded: follow = atYEnd
    onCountChanged: if (follow || count <= 1) Qt.callLater(positionViewAtEnd)
    onContentHeightChanged: if (follow) Qt.callLater(positionViewAtEnd)

    Connections {
        target: view.workspace.chat
        function onConversationChanged() {
            view.follow = true
            Qt.callLater(view.positionViewAtEnd)
        }
    }

    // A reply's link may lead anywhere (a model can write any address, or mask one with its
    // text): show where it goes first. Only web and mail links open; others can be copied.
    Dialog {
        id: linkDialog
        objectName: "linkDialog"
        property string url
        readonly property bool openable: /^(https?|mailto):/i.test(url)
        function ask(link) {
            url = link
            open()
        }
        parent: Overlay.overlay
        anchors.centerIn: parent
        width: Math.min(560, parent ? parent.width - 48 : 560)
        modal: true
        padding: 16
        title: openable ? qsTr("Open this link in your browser?") : qsTr("This link cannot be opened from a reply")
        standardButtons: openable ? Dialog.Open | Dialog.Cancel : Dialog.Close
        onAccepted: if (openable) Qt.openUrlExternally(url)

        ColumnLayout {
            anchors.fill: parent
            spacing: 8
            TextEdit {
                objectName: "linkDialogUrl"
                Layout.fillWidth: true
                text: linkDialog.url
                textFormat: TextEdit.PlainText
                wrapMode: TextEdit.WrapAnywhere
                readOnly: true
                selectByMouse: true
                font.family: view.theme.monospace
                color: view.theme.text
                selectionColor: view.theme.accent
            }
            Label {
                Layout.fillWidth: true
                visible: !linkDialog.openable
                text: qsTr("Only web (http, https) and mail links open from a reply. You can select and copy the address.")
                wrapMode: Text.Wrap
                color: view.theme.subtle
            }
        }
    }

    Label {
        anchors.centerIn: parent
        visible: view.count === 0
        text: view.workspace.engine.loading ? qsTr("Loading the model…") : qsTr("Ask anything. Enter sends, Shift+Enter adds a line.")
        color: view.theme.subtle
    }
}
