// The open conversation's messages. Follows the streaming reply while the view is at the end;
// scrolling up stops following until the user comes back down.
import QtQuick
import QtQuick.Controls

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

    Label {
        anchors.centerIn: parent
        visible: view.count === 0
        text: view.workspace.engine.loading ? qsTr("Loading the model…") : qsTr("Ask anything. Enter sends, Shift+Enter adds a line.")
        color: view.theme.subtle
    }
}
