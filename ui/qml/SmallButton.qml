// A compact flat button for the message header's actions: fits the header line's height.
// With an iconName it shows only the icon (the text stays its accessible name and tooltip);
// without one, only the text.
import QtQuick
import QtQuick.Controls

IconButton {
    display: iconName.length > 0 ? AbstractButton.IconOnly : AbstractButton.TextOnly
    toolTipText: iconName.length > 0 ? text : ""
    iconSize: 15
    implicitHeight: 24
    topPadding: 2
    bottomPadding: 2
    leftPadding: iconName.length > 0 ? 5 : 8
    rightPadding: iconName.length > 0 ? 5 : 8
    font.pixelSize: 12
}
