// Top bar: the loaded model (or loading progress) and the settings button.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: bar
    required property QtObject workspace
    required property QtObject theme
    readonly property QtObject engine: workspace.engine
    signal settingsRequested()
    signal chatSettingsRequested()

    implicitHeight: 48
    color: theme.window

    RowLayout {
        anchors.fill: parent
        anchors.leftMargin: 16
        anchors.rightMargin: 10
        spacing: 10

        Label {
            Layout.fillWidth: true
            elide: Text.ElideRight
            color: bar.engine.modelReady ? bar.theme.text : bar.theme.subtle
            text: bar.engine.loading ? qsTr("Loading %1…").arg(bar.engine.loadingPath.split("/").pop())
                 : bar.engine.modelReady ? bar.engine.modelDescription
                 : qsTr("No model loaded")
        }
        ProgressBar {
            visible: bar.engine.loading
            Layout.preferredWidth: 160
            from: 0
            to: 1
            value: bar.engine.loadProgress
        }
        Button {
            objectName: "chatSettingsButton"
            text: qsTr("This chat…")
            onClicked: bar.chatSettingsRequested()
            ToolTip.visible: hovered
            ToolTip.text: qsTr("System prompt and reply settings for this chat only")
        }
        Button {
            text: qsTr("Settings")
            onClicked: bar.settingsRequested()
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Models, engine, sampling and theme (Ctrl+,)")
        }
    }
    Rectangle {
        anchors.bottom: parent.bottom
        width: parent.width
        height: 1
        color: bar.theme.border
    }
}
