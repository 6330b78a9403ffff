// Colours for light and dark (Qt 6.4 has no colour-scheme API; the Workspace decides).
import QtQuick

QtObject {
    property bool dark: false
    readonly property color window: dark ? "#1f2023" : "#f7f7f8"
    readonly property color sidebar: dark ? "#17181a" : "#eeeff1"
    readonly property color base: dark ? "#2a2b2f" : "#ffffff"
    readonly property color alternateBase: dark ? "#303136" : "#f0f1f3"
    readonly property color button: dark ? "#34353a" : "#fbfbfc"
    readonly property color text: dark ? "#e6e6e8" : "#1d1d1f"
    readonly property color subtle: dark ? "#9a9ba1" : "#6b6c72"
    readonly property color border: dark ? "#3b3c42" : "#d9dadd"
    readonly property color accent: dark ? "#5b8def" : "#2f6fde"
    readonly property color userBubble: dark ? "#2c3b57" : "#e3ecfb"
    readonly property color assistantBubble: dark ? "#26272b" : "#ffffff"
    readonly property color codeBackground: dark ? "#151618" : "#f3f4f6"
    readonly property color error: dark ? "#ff7b72" : "#c62828"
    readonly property color errorBackground: dark ? "#4a2222" : "#fdecea"
    readonly property color noticeBackground: dark ? "#433a1c" : "#fff6d6"
    readonly property string monospace: "monospace"
}
