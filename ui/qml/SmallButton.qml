// A compact flat button for the message header's actions: fits the header line's height.
import QtQuick
import QtQuick.Controls

ToolButton {
    implicitHeight: 24
    topPadding: 2
    bottomPadding: 2
    leftPadding: 8
    rightPadding: 8
    font.pixelSize: 12
}
