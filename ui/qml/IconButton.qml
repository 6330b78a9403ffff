// A button with one of the bundled SVG icons (resources/icons/ui, from Lucide), drawn in the
// button's text colour, so it follows the light and dark palettes Main.qml sets. Icons are SVG
// files rather than emoji or symbol glyphs, which show as empty boxes where no font has them.
//
//   IconButton { iconName: "paperclip"; text: qsTr("Attach documents") }           // icon only
//   IconButton { iconName: "settings"; text: qsTr("Settings"); flat: false
//                display: AbstractButton.TextBesideIcon }                          // icon + label
//
// `text` is always set: it is the accessible name and, by default, the tooltip.
import QtQuick
import QtQuick.Controls

Button {
    id: control
    property string iconName           // a file name in resources/icons/ui, without ".svg"
    property string toolTipText: text  // "" for none
    property int iconSize: 18

    flat: true
    // Fusion gives every Button an 80 px wide background; a flat one is only as wide as its
    // content, like a ToolButton.
    implicitWidth: flat ? implicitContentWidth + leftPadding + rightPadding
                        : Math.max(implicitBackgroundWidth + leftInset + rightInset,
                                   implicitContentWidth + leftPadding + rightPadding)
    display: AbstractButton.IconOnly
    padding: display === AbstractButton.IconOnly ? 6 : 4
    leftPadding: display === AbstractButton.IconOnly ? padding : 10
    rightPadding: display === AbstractButton.IconOnly ? padding : 12
    icon.source: iconName.length > 0 ? "qrc:/llamadesk/icons/ui/" + iconName + ".svg" : ""
    icon.width: iconSize
    icon.height: iconSize
    // The style's label colour (palette.buttonText, which the window sets per theme); dimmed
    // when disabled like the label, which the palette alone does not do for the icon here.
    icon.color: palette.buttonText
    opacity: enabled ? 1 : 0.45

    Accessible.name: text
    Accessible.description: toolTipText
    ToolTip.visible: hovered && toolTipText.length > 0
    ToolTip.text: toolTipText
    ToolTip.delay: 600
}
