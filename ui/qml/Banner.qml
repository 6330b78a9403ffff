// A dismissable notice above the chat (e.g. older messages left out of the context window).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: banner
    required property QtObject theme
    property string text
    signal dismissed()

    visible: text.length > 0
    implicitHeight: visible ? row.implicitHeight + 16 : 0
    color: theme.noticeBackground

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: 16
        anchors.rightMargin: 8
        Label {
            Layout.fillWidth: true
            text: banner.text
            textFormat: Text.PlainText
            wrapMode: Text.Wrap
            color: banner.theme.text
        }
        IconButton {
            objectName: "bannerDismissButton"
            iconName: "x"
            iconSize: 16
            text: qsTr("Dismiss")
            onClicked: banner.dismissed()
        }
    }
}
