// Errors and notes from the engine, the history and the file system, one at a time. Errors
// stay longer and can be clicked away.
import QtQuick
import QtQuick.Controls

Rectangle {
    id: toast
    required property QtObject theme
    property bool isError: false
    property string message

    function show(text, error) {
        message = text
        isError = error
        opacity = 1
        hideTimer.interval = error ? 10000 : 4000
        hideTimer.restart()
    }

    visible: opacity > 0
    opacity: 0
    radius: 8
    implicitHeight: label.implicitHeight + 24
    color: isError ? theme.errorBackground : theme.base
    border.color: isError ? theme.error : theme.border
    Behavior on opacity { NumberAnimation { duration: 150 } }

    Label {
        id: label
        objectName: "toastText"
        anchors.fill: parent
        anchors.margins: 12
        text: toast.message
        textFormat: Text.PlainText
        wrapMode: Text.Wrap
        color: toast.isError ? toast.theme.error : toast.theme.text
    }
    MouseArea {
        anchors.fill: parent
        onClicked: toast.opacity = 0
    }
    Timer {
        id: hideTimer
        onTriggered: toast.opacity = 0
    }
}
